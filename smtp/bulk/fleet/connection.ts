/**
 * How the fleet reaches Redis: a `redis://` or `rediss://` URL (user and
 * password in it are allowed) or the parts of one. Connections never give
 * up: a worker waits through a Redis outage of any length and carries on,
 * and every command waits for the connection instead of failing
 * (`maxRetriesPerRequest: null`, which BullMQ requires as well).
 */
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import { loadIoredis } from './deps';
import { FleetError } from './errors';
import { type FleetRedis, withScripts } from './scripts';

/** Where Redis is: a URL, or its parts. */
export type RedisConnection =
  | string
  | {
      /** `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS). */
      url?: string;
      host?: string;
      port?: number;
      username?: string;
      password?: string;
      db?: number;
      /** TLS: true, or Node's TLS options (CA, servername, ...). A `rediss://` URL turns it on. */
      tls?: boolean | TlsOptions;
    };

/** The URL with its password replaced by `***`, fit for logs and errors. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/** A short, password-free description of a connection, for logs. */
export function describeConnection(connection: RedisConnection): string {
  if (typeof connection === 'string') return redactRedisUrl(connection);
  if (connection.url) return redactRedisUrl(connection.url);
  return `${connection.tls ? 'rediss' : 'redis'}://${connection.host ?? '127.0.0.1'}:${connection.port ?? 6379}`;
}

/** Waits between reconnection tries: quick at first, then every 2 s, forever. */
export function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

/** ioredis options shared by every fleet connection. */
function baseOptions(): Record<string, unknown> {
  return {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelay,
    // A failover replica answers READONLY: reconnect to find the primary.
    reconnectOnError: (error: Error) => /READONLY/.test(error.message),
    lazyConnect: false,
    // A socket being closed is destroyed soon if Redis does not answer the close, so a stopped worker exits promptly.
    disconnectTimeout: 200,
  };
}

/**
 * Opens an ioredis client for the fleet. @internal
 * @throws FleetError `EREDIS` for a URL that is not redis:// or rediss://; `EDEPENDENCY` without ioredis.
 */
export function openRedis(connection: RedisConnection, name = 'tclmail'): Redis {
  const { Redis: RedisClass } = loadIoredis();
  const options: Record<string, unknown> = { ...baseOptions(), connectionName: name };
  const spec = typeof connection === 'string' ? { url: connection } : connection;
  if (spec.url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(spec.url);
    } catch {
      throw new FleetError('EREDIS', `not a Redis URL: ${redactRedisUrl(spec.url)} (expected redis://host:port or rediss://host:port)`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new FleetError('EREDIS', `a Redis URL starts with redis:// or rediss://, not ${parsed.protocol}//`);
    }
    options.host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    options.port = parsed.port ? Number(parsed.port) : 6379;
    if (parsed.username) options.username = decodeURIComponent(parsed.username);
    if (parsed.password) options.password = decodeURIComponent(parsed.password);
    const db = parsed.pathname.replace(/^\//, '');
    if (db !== '') {
      if (!/^\d+$/.test(db)) throw new FleetError('EREDIS', `the Redis URL's path must be a database number, not /${db}`);
      options.db = Number(db);
    }
    // SNI carries host names only (RFC 6066 §3), never an address.
    if (parsed.protocol === 'rediss:') options.tls = isIP(options.host as string) ? {} : { servername: options.host as string };
  }
  if (spec.host !== undefined) options.host = spec.host;
  if (spec.port !== undefined) options.port = spec.port;
  if (spec.username !== undefined) options.username = spec.username;
  if (spec.password !== undefined) options.password = spec.password;
  if (spec.db !== undefined) options.db = spec.db;
  if (spec.tls === true) options.tls = { ...((options.tls) ?? {}) };
  else if (typeof spec.tls === 'object') options.tls = { ...((options.tls) ?? {}), ...spec.tls };
  options.host ??= '127.0.0.1';
  options.port ??= 6379;
  const client = new RedisClass(options);
  // Errors while reconnecting are expected during an outage; the client retries on its own.
  client.on('error', () => undefined);
  return client;
}

/** Where a fleet function finds Redis: a URL or its parts (a connection is opened and closed), or an open {@link Fleet}. */
export type FleetConnection = RedisConnection | { readonly [CLIENT]: Redis };

/** The key under which an open fleet handle lends its client. @internal */
export const CLIENT: unique symbol = Symbol('tclmail.fleet.client');

/** A client for one call: the handle's own, or a new one closed by `release`. @internal */
export function connectionFor(connection: FleetConnection, name?: string): { redis: FleetRedis; release: () => Promise<void> } {
  if (typeof connection === 'object' && connection !== null && CLIENT in connection) {
    return { redis: withScripts(connection[CLIENT]), release: async () => undefined };
  }
  const redis = withScripts(openRedis(connection, name));
  return { redis, release: () => quit(redis) };
}

/** Closes a client politely, or at once when Redis is not there to answer. @internal */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // Gone meanwhile: disconnect below.
    }
  }
  redis.disconnect();
}
