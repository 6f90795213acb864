/**
 * The options of `smtp.connect`, read and checked before any I/O: where to
 * connect, implicit TLS, the deadlines, the EHLO name and the transcript.
 */
import type { LookupFunction } from 'node:net';
import * as os from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { OptionError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { type OptionSpecs, parseOptions, tclBoolean, typed } from '../../lib/options';
import { refuseLineBreaks } from '../../lib/text';
import { checkClientName } from './command';
import { type Connection, isLoopbackAddress, isSocketPath } from './connection';

/** The checked options of one connection. */
export interface ConnectSettings {
  server: string;
  port: number;
  client: string | undefined;
  tls: ConnectionOptions | null;
  maxsecs: number;
  connectTimeoutSecs: number;
  debug: boolean | ((line: string) => void) | undefined;
  insecureauth: boolean;
  lookup: LookupFunction | undefined;
  protocol: 'smtp' | 'lmtp';
  signal: AbortSignal | undefined;
}

const SPECS = {
  server: { kind: 'string' },
  port: { kind: 'integer', min: 1 },
  client: { kind: 'string' },
  tls: { kind: 'any' },
  maxsecs: { kind: 'number', above: 0, unit: 'seconds' },
  connectTimeoutSecs: { kind: 'number', above: 0, unit: 'seconds' },
  debug: { kind: 'boolean-or-function' },
  insecureauth: { kind: 'boolean' },
  lookup: typed<LookupFunction>()({ kind: 'function' }),
  protocol: { kind: 'string', values: ['smtp', 'lmtp'] },
  signal: typed<AbortSignal>()({ kind: 'any' }),
} as const satisfies OptionSpecs;

function hostToAscii(name: string, field: string): string {
  refuseLineBreaks(field, name);
  return /[^\x00-\x7f]/.test(name) ? toASCIIDomain(name) : name;
}

export function readSettings(args: readonly unknown[]): ConnectSettings {
  const o = parseOptions('smtp.connect', SPECS, args);
  let tls: ConnectionOptions | null = null;
  if (o.tls !== undefined) {
    const value = o.tls;
    const flag = tclBoolean(value);
    if (flag !== undefined) tls = flag ? {} : null;
    else if (typeof value === 'string' && value.toLowerCase() === 'implicit') tls = {};
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) tls = value;
    else throw new OptionError('smtp.connect', 'tls', `-tls expects a boolean or TLS options, not ${JSON.stringify(value)}`);
  }
  const given = o.server ?? 'localhost';
  const server = isSocketPath(given) ? given : hostToAscii(given, 'server');
  if (isSocketPath(given)) refuseLineBreaks('server', given);
  const protocol = o.protocol ?? 'smtp';
  if (server === '') throw new OptionError('smtp.connect', 'server', '-server expects a host name, not ""');
  let client = o.client;
  if (client !== undefined) client = checkClientName(hostToAscii(client, 'client'));
  return {
    server,
    // RFC 2033 gives LMTP no port but forbids 25; 24 is the one in common use.
    port: o.port ?? (tls ? 465 : protocol === 'lmtp' ? 24 : 25),
    client,
    tls,
    maxsecs: o.maxsecs ?? 120,
    connectTimeoutSecs: o.connectTimeoutSecs ?? 30,
    debug: o.debug,
    insecureauth: o.insecureauth ?? false,
    lookup: o.lookup,
    protocol,
    signal: readSignal('smtp.connect', o.signal),
  };
}

/** The `signal` option: an AbortSignal, or nothing. */
export function readSignal(command: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw new OptionError(command, 'signal', `-signal expects an AbortSignal (from an AbortController), not ${typeof value}`);
  return value;
}

/** The EHLO name when none is given: 'localhost' for a loopback server, else this host's name (or its address literal). */
export function defaultClient(conn: Connection, server: string, localAddress: string | undefined): string {
  if (server === 'localhost' || conn.unixSocket || isLoopbackAddress(conn.remoteAddress)) return 'localhost';
  try {
    return checkClientName(hostToAscii(os.hostname(), 'client'));
  } catch {
    if (!localAddress) return 'localhost';
    const plain = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
    return plain.includes(':') ? `[IPv6:${plain}]` : `[${plain}]`;
  }
}

