/**
 * The options of `smtp.connect`, read and checked before any I/O: where to
 * connect, implicit TLS, the deadlines, the EHLO name and the transcript.
 */
import type { LookupFunction } from 'node:net';
import * as os from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { OptionError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { OptionSpecs, parseOptions } from '../../lib/options';
import { refuseLineBreaks } from '../../lib/text';
import { checkClientName } from './command';
import { Connection, isLoopbackAddress, isSocketPath } from './connection';

/** The checked options of one connection. */
export interface SessionSettings {
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
}

const SPECS: OptionSpecs = {
  server: { kind: 'string' },
  port: { kind: 'integer', min: 1 },
  client: { kind: 'string' },
  tls: { kind: 'any' },
  maxsecs: { kind: 'any' },
  connectTimeoutSecs: { kind: 'any' },
  debug: { kind: 'any' },
  insecureauth: { kind: 'boolean' },
  lookup: { kind: 'function' },
  protocol: { kind: 'string', values: ['smtp', 'lmtp'] },
};

const TCL_BOOLEAN: Record<string, boolean> = { '1': true, true: true, yes: true, on: true, '0': false, false: false, no: false, off: false };

function seconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0) {
    throw new OptionError('smtp.connect', name, `-${name} expects a positive number of seconds, not ${JSON.stringify(value)}`);
  }
  return number;
}

function hostToAscii(name: string, field: string): string {
  refuseLineBreaks(field, name);
  return /[^\x00-\x7f]/.test(name) ? toASCIIDomain(name) : name;
}

export function readSettings(args: readonly unknown[]): SessionSettings {
  const o = parseOptions('smtp.connect', SPECS, args);
  let tls: ConnectionOptions | null = null;
  if (o.tls !== undefined) {
    const value = o.tls;
    if (typeof value === 'boolean') tls = value ? {} : null;
    else if (typeof value === 'string' && value.toLowerCase() in TCL_BOOLEAN) tls = TCL_BOOLEAN[value.toLowerCase()] ? {} : null;
    else if (typeof value === 'string' && value.toLowerCase() === 'implicit') tls = {};
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) tls = value as ConnectionOptions;
    else throw new OptionError('smtp.connect', 'tls', `-tls expects a boolean or TLS options, not ${JSON.stringify(value)}`);
  }
  let debug: unknown = o.debug;
  if (typeof debug === 'string' && debug.toLowerCase() in TCL_BOOLEAN) debug = TCL_BOOLEAN[debug.toLowerCase()];
  if (debug !== undefined && typeof debug !== 'boolean' && typeof debug !== 'function') {
    throw new OptionError('smtp.connect', 'debug', `-debug expects a boolean or a function, not ${JSON.stringify(debug)}`);
  }
  const given = (o.server as string | undefined) ?? 'localhost';
  const server = isSocketPath(given) ? given : hostToAscii(given, 'server');
  if (isSocketPath(given)) refuseLineBreaks('server', given);
  const protocol = ((o.protocol as string | undefined) ?? 'smtp') as 'smtp' | 'lmtp';
  if (server === '') throw new OptionError('smtp.connect', 'server', '-server expects a host name, not ""');
  let client = o.client as string | undefined;
  if (client !== undefined) client = checkClientName(hostToAscii(client, 'client'));
  const maxsecs = seconds('maxsecs', o.maxsecs, 120);
  return {
    server,
    // RFC 2033 gives LMTP no port but forbids 25; 24 is the one in common use.
    port: (o.port as number | undefined) ?? (tls ? 465 : protocol === 'lmtp' ? 24 : 25),
    client,
    tls,
    maxsecs,
    connectTimeoutSecs: seconds('connectTimeoutSecs', o.connectTimeoutSecs, 30),
    debug: debug as SessionSettings['debug'],
    insecureauth: (o.insecureauth as boolean | undefined) ?? false,
    lookup: o.lookup as LookupFunction | undefined,
    protocol,
  };
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

