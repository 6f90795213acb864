/**
 * Where the fleet's Redis is: `--redis URL`, `--redis-file FILE` (its first
 * line) or the TCLMAIL_REDIS_URL environment variable. A URL may carry a
 * password, and a password in a flag shows in `ps` and in shell history, so
 * `--redis` with a password in it is refused the way `--password` is: the
 * URL with its password goes in the file or the environment variable.
 */
import { readFileSync } from 'node:fs';
import { redactRedisUrl } from '../smtp/bulk/fleet/connection';
import { stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import { requireReadableFile } from './compose';

/** The flags that name the Redis, shared by `worker` and the fleet side of `bulk`. */
export const REDIS_FLAGS = {
  redis: { type: 'string' },
  'redis-file': { type: 'string' },
} as const;

export interface RedisTarget {
  /** The URL to connect to, password included. */
  url: string;
  /** The URL with its password replaced by `***`: safe to print and log. */
  shown: string;
}

function parse(text: string, from: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError(`${from}: not a URL; expected redis://[USER[:PASSWORD]@]HOST[:PORT][/DB] or rediss://... for TLS`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new UsageError(`${from}: the scheme must be redis:// or rediss:// (TLS), not ${url.protocol}//`);
  if (url.hostname === '') throw new UsageError(`${from}: the URL names no host`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) throw new UsageError(`${from}: the path must be a database number (/0 to /15), not ${JSON.stringify(url.pathname)}`);
  return url;
}

/** The Redis the flags and environment name; a usage error when none is named or a password is inline. */
export function redisTarget(flags: Flags, io: Io): RedisTarget {
  const inline = stringFlag(flags, 'redis');
  const file = stringFlag(flags, 'redis-file');
  if (inline !== undefined && file !== undefined) throw new UsageError('give the Redis URL with --redis or --redis-file, not both');
  let url: URL;
  if (inline !== undefined) {
    url = parse(inline, '--redis');
    if (url.password !== '') {
      throw new UsageError('--redis: a password in a flag shows in ps and in shell history; put the URL in a file for --redis-file FILE or in TCLMAIL_REDIS_URL');
    }
  } else if (file !== undefined) {
    requireReadableFile('--redis-file', file);
    url = parse(readFileSync(file, 'utf8').split(/\r?\n/)[0], `--redis-file ${file}`);
  } else if (io.env.TCLMAIL_REDIS_URL !== undefined && io.env.TCLMAIL_REDIS_URL !== '') {
    url = parse(io.env.TCLMAIL_REDIS_URL, 'TCLMAIL_REDIS_URL');
  } else {
    throw new UsageError('no Redis named: give --redis URL, --redis-file FILE or TCLMAIL_REDIS_URL');
  }
  const text = url.toString();
  return { url: text, shown: redactRedisUrl(text) };
}
