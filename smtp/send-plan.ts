/**
 * `smtp.sendmessage`'s options read into a plan before the first connection:
 * the servers to walk, the settings of the session opened to each (which a
 * pool may share between messages), and the settings of the message itself.
 * Every check that can fail without a server fails here.
 */
import type { LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { InvalidInputError, OptionError, type SmtpError } from '../lib/errors';
import { type OptionSpecs, type OptionsOf, parseOptions, typed } from '../lib/options';
import { refuseControls } from '../lib/text';
import { checkMessageOptions, getHeaderFields, isToken, type Token } from '../mime';
import { uniqueID } from '../mime/build/uniqueid';
import { formatDate } from '../mime/codec/datetime';
import type { DkimOptions, DkimSigner } from './dkim/sign';
import { deriveEnvelope, type Envelope } from './envelope';
import { EXTENSION_OPTIONS, type ExtensionSettings, readExtensionOptions, type StartTlsMode } from './extension-options';
import { checkClientName } from './protocol/command';
import { readSignal } from './protocol/connect-options';
import { isSocketPath } from './protocol/connection';
import type { DsnOptions, NotifyValue } from './protocol/dsn';

/** What a `tlspolicy` decides: go on in plaintext (`insecure`) or give up on this server (anything else). */
export type TlsVerdict = 'secure' | 'insecure';

/** Details for a TypeScript policy; a Tcl-style policy reads only the first two arguments. */
export interface TlsFailure {
  /** `starttls`: the server refused STARTTLS; `tls`: the handshake or the certificate check failed. */
  stage: 'starttls' | 'tls';
  server: string;
  port: number;
  error: SmtpError;
}

/**
 * Called when TLS cannot be set up: with the STARTTLS reply's code and text, or
 * 400 and the local error's message when there was no reply (Tcllib's code for a
 * local failure). Returning `insecure` goes on in plaintext; anything else, or a
 * throw, moves to the next server.
 */
export type TlsPolicy = (code: number, diagnostic: string, failure: TlsFailure) => TlsVerdict | string | Promise<TlsVerdict | string>;

/** The options of {@link sendmessage}: Tcllib's flags without the dash, plus tclmail's extensions. */
export interface SendMessageOptions {
  /** Hosts tried in order. Tcl: `-servers {mx1 mx2}`. Default `['localhost']`. */
  servers?: string[] | string;
  /** Ports paired with `servers`; the last one repeats. Tcl: `-ports {25 587}`. Default 25 (465 with `tlsimport`). */
  ports?: number[] | number | string;
  /** The EHLO/HELO name. Default `localhost` when a server is loopback, else the host name. */
  client?: string;
  /** Accepted for Tcllib scripts and ignored: XQUE/QUED are not standard (docs/smtp.md). */
  queue?: boolean;
  /** Send when at least one recipient was accepted (the others are returned). Default false: any refusal cancels. */
  atleastone?: boolean;
  /** The envelope sender; `''` is the null sender `<>`. Default: the From field. */
  originator?: string;
  /** Envelope recipients, comma separated (or an array). Default: To, Cc, Dcc and Bcc of the message. */
  recipients?: string | string[];
  /** Fields added to the transmitted message: `[key, value]` pairs. Tcl: `-header {Subject Hi}` (repeatable). */
  header?: Array<[string, string]> | [string, string];
  /** STARTTLS when the server offers it. Default true. */
  usetls?: boolean;
  /** Decides on a TLS setup failure; without one, such a server is given up. */
  tlspolicy?: TlsPolicy;
  /** Implicit TLS from the first byte (Tcllib's `-tlsimport`; port 465). Default false. */
  tlsimport?: boolean;
  /** SMTP AUTH, when `username` is not empty. */
  username?: string;
  password?: string;
  /** The dialogue as `C:`/`S:` lines, secrets masked: true for stderr, or a function per line. */
  debug?: boolean | ((line: string) => void);
  /** Seconds allowed for the whole exchange with one server. Default 120. */
  maxsecs?: number;
  /** Extension: Node TLS options for STARTTLS and implicit TLS (ca, servername, rejectUnauthorized, minVersion ...), or `'implicit'` for implicit TLS (RFC 8314, port 465). */
  tls?: ConnectionOptions | 'implicit';
  /** Extension: `lmtp` delivers with LMTP (RFC 2033; port 24, or a Unix socket given as a path in `servers`). Default `smtp`. */
  protocol?: 'smtp' | 'lmtp';
  /** Extension: STARTTLS `opportunistic` (when offered; Tcllib's `usetls`), `required` (no clear text: a server without it is given up), or `never`. */
  starttls?: StartTlsMode;
  /** Extension: REQUIRETLS (RFC 8689): TLS on this hop (`starttls: 'required'`) and a server that offers REQUIRETLS, which then carries it on. */
  requiretls?: boolean;
  /** Extension: DSN NOTIFY (RFC 3461): `never`, or any of success, failure, delay; or per recipient `{ address: value, '*': value }`. */
  notify?: NotifyValue | Record<string, NotifyValue>;
  /** Extension: DSN RET: `full` or `hdrs`. */
  ret?: 'full' | 'hdrs';
  /** Extension: DSN ENVID, the sender's id for this message (printable ASCII, at most 100 characters). */
  envid?: string;
  /** Extension: DSN ORCPT: true for each recipient's own address, or `{ recipient: original }`. */
  orcpt?: boolean | Record<string, string>;
  /** Extension: give up a server that does not offer DSN instead of sending without the DSN requests. Default false. */
  dsnrequired?: boolean;
  /** Extension: BDAT (RFC 3030) when the server offers CHUNKING. Default true. */
  chunking?: boolean;
  /** Extension: binary parts go untouched with BDAT and BODY=BINARYMIME when offered; otherwise they are re-encoded to 7 bits. Default false. */
  binarymime?: boolean;
  /** Extension: DKIM signing (RFC 6376) of the message as transmitted. */
  dkim?: DkimOptions;
  /** Extension: `same` (default) sends Bcc recipients the message itself; `digest` sends them Tcllib's blind-copy digest. */
  bcc?: 'same' | 'digest';
  /** Extension: allow AUTH without TLS to a host other than loopback. Default false. */
  insecureauth?: boolean;
  /** Extension: an OAuth 2.0 access token for XOAUTH2. */
  oauth2?: string;
  /** Extension: resolves server names instead of DNS (Node's `lookup`); a DNS-override and test hook. TLS still verifies the name. */
  lookup?: LookupFunction;
}

/** The option of one call, beside {@link SendMessageOptions} (smtp.sendmessage, smtp.pool and a pool's sends). */
export interface CallOptions {
  /**
   * Cancels the call, as `fetch` is cancelled: it rejects with a DOMException named `AbortError` and the
   * connection is closed without the end of data. Once the end of data is out the message may have been
   * delivered: that outcome stays `UncertainDeliveryError`.
   */
  signal?: AbortSignal;
}

const COMMAND = 'smtp.sendmessage';

/** The option table for {@link parseOptions}. */
export const SENDMESSAGE_OPTIONS = {
  servers: { kind: 'list' },
  ports: { kind: 'integers', min: 1 },
  client: { kind: 'string' },
  queue: { kind: 'boolean' },
  atleastone: { kind: 'boolean' },
  originator: { kind: 'string' },
  recipients: { kind: 'any' },
  header: { kind: 'pair', repeat: true },
  usetls: { kind: 'boolean' },
  tlspolicy: typed<TlsPolicy>()({ kind: 'function' }),
  tlsimport: { kind: 'boolean' },
  username: { kind: 'string' },
  password: { kind: 'string' },
  debug: { kind: 'boolean-or-function' },
  maxsecs: { kind: 'integer', min: 1 },
  tls: { kind: 'any' },
  bcc: { kind: 'string', values: ['same', 'digest'] },
  insecureauth: { kind: 'boolean' },
  oauth2: { kind: 'string' },
  lookup: typed<LookupFunction>()({ kind: 'function' }),
  ...EXTENSION_OPTIONS,
} as const satisfies OptionSpecs;

/**
 * The options of one call (smtp.sendmessage, a pool and its sends): the table above and `signal`, which
 * cancels that call. smtp.sendmany takes `signal` for the whole run (every message of it), never per item.
 */
export const SEND_CALL_OPTIONS = { ...SENDMESSAGE_OPTIONS, signal: typed<AbortSignal>()({ kind: 'any' }) } as const satisfies OptionSpecs;

/** sendmessage's options as {@link parseOptions} returns them for {@link SEND_CALL_OPTIONS}. */
export type SendOptions = OptionsOf<typeof SEND_CALL_OPTIONS>;


/** One (server, port) pair of the walk. */
export interface Target {
  server: string;
  port: number;
}

/**
 * How a session is opened and readied (connect, EHLO, STARTTLS, AUTH): two
 * messages whose settings are the same ({@link sameSession}) may share a session.
 */
export interface SessionSettings {
  /** The EHLO name; undefined lets the session name this host. */
  client: string | undefined;
  /** STARTTLS policy; Tcllib's `usetls` is false exactly when this is `never`. */
  starttls: StartTlsMode;
  tlspolicy?: TlsPolicy;
  tlsimport: boolean;
  tls?: ConnectionOptions;
  username: string;
  password: string;
  oauth2?: string;
  insecureauth: boolean;
  debug: boolean | ((line: string) => void);
  lookup?: LookupFunction;
  /** `lmtp` for LMTP (RFC 2033). */
  protocol: 'smtp' | 'lmtp';
}

/** What one message is and asks for, whatever session carries it. */
export interface MessageSettings {
  envelope: Envelope;
  atleastone: boolean;
  bcc: 'same' | 'digest';
  /** Seconds for the whole exchange with one server. */
  maxsecs: number;
  requiretls: boolean;
  dsn?: DsnOptions;
  chunking: boolean;
  binarymime: boolean;
  dkim?: DkimSigner;
  /** Cancels this message's send (AbortError); the session it was on is closed. */
  signal?: AbortSignal;
}

/** Everything a send needs, checked before the first connection: where, over what session, what. */
export class Plan {
  constructor(
    readonly targets: readonly Target[],
    readonly session: SessionSettings,
    readonly message: MessageSettings,
  ) {}

  /** The message's envelope (`message.envelope`): who it is from and to. */
  get envelope(): Envelope {
    return this.message.envelope;
  }
}

// Every field of SessionSettings, listed by the type: a field added to it and not here fails to compile.
const SESSION_FIELDS: { readonly [K in keyof Required<SessionSettings>]: true } = {
  client: true, starttls: true, tlspolicy: true, tlsimport: true, tls: true, username: true, password: true,
  oauth2: true, insecureauth: true, debug: true, lookup: true, protocol: true,
};
const SESSION_FIELD_NAMES = Object.keys(SESSION_FIELDS) as Array<keyof SessionSettings>;

/**
 * Whether a session opened with `a` serves a message planned with `b`: every
 * setting the same (objects and functions by identity: the same TLS options,
 * the same policy).
 */
export function sameSession(a: SessionSettings, b: SessionSettings): boolean {
  if (a === b) return true;
  for (const name of SESSION_FIELD_NAMES) if (a[name] !== b[name]) return false;
  return true;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

// formatDate's text changes once a second: one formatting serves every message sent within it.
let stampSecond = NaN;
let stampText = '';

function dateNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    stampText = formatDate(new Date(now));
    stampSecond = second;
  }
  return stampText;
}

/**
 * The servers and their ports, in the order they are tried. A server may carry
 * its own port (`mx.example.org:2525`, `[2001:db8::1]:2525`): it stands
 * instead of the `ports` entry for that server. A bare IPv6 address has no port.
 */
function readTargets(o: SendOptions, extension: ExtensionSettings): Target[] {
  const servers = (o.servers ?? ['localhost']).filter((s) => s !== '');
  if (servers.length === 0) throw new OptionError(COMMAND, 'servers', '-servers needs at least one host');
  // RFC 8314: 465 for implicit TLS; RFC 2033 names no LMTP port but 24 is the one in use.
  const ports = o.ports ?? [extension.tlsimport ? 465 : extension.protocol === 'lmtp' ? 24 : 25];
  if (ports.length === 0) throw new OptionError(COMMAND, 'ports', '-ports needs at least one port');
  for (const port of ports) {
    if (port > 65535) throw new OptionError(COMMAND, 'ports', `-ports: ${port} is not a TCP port`);
  }
  return servers.map((given, i) => {
    refuseControls('servers', given);
    if (/\s/.test(given)) throw new InvalidInputError('servers', `${JSON.stringify(given)} is not a host name`);
    // The last port repeats for the servers beyond the port list.
    const listed = ports[Math.min(i, ports.length - 1)];
    const withPort = isSocketPath(given) ? null : /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d+)$/.exec(given);
    if (!withPort) return { server: given, port: listed };
    const port = Number(withPort[3]);
    if (port < 1 || port > 65535) throw new OptionError(COMMAND, 'servers', `-servers: ${JSON.stringify(given)}: ${withPort[3]} is not a TCP port`);
    return { server: withPort[1] ?? withPort[2], port };
  });
}

/** The EHLO name: the `client` option; else 'localhost' when any server is loopback; else the session names this host. */
function readClient(o: SendOptions, targets: readonly Target[]): string | undefined {
  let client: string | undefined = o.client || undefined;
  if (client === undefined && targets.some((t) => LOOPBACK.has(t.server.toLowerCase()) || isSocketPath(t.server))) client = 'localhost';
  if (client !== undefined) {
    refuseControls('client', client);
    if (!/[^\x00-\x7f]/.test(client)) checkClientName(client);
  }
  return client;
}

/** The envelope and the fields added to the transmitted copy, from the options and the part's header. */
function readEnvelope(tok: Token, o: SendOptions, bcc: 'same' | 'digest'): Envelope {
  let recipients: string | undefined;
  if (o.recipients !== undefined) {
    const r = o.recipients;
    if (typeof r === 'string') recipients = r;
    else if (Array.isArray(r) && r.every((x) => typeof x === 'string')) recipients = r.join(',');
    else throw new OptionError(COMMAND, 'recipients', '-recipients expects a string or a list of strings');
  }

  const header = (o.header ?? []).map(([key, value]): [string, string] => {
    if (typeof value !== 'string') throw new OptionError(COMMAND, 'header', `-header ${key}: the value must be a string`);
    return [key, value];
  });
  const envelope = deriveEnvelope({
    originator: o.originator,
    recipients,
    header,
    partHeaders: getHeaderFields(tok),
    bcc,
    stamp: { date: dateNow, messageId: () => uniqueID() },
  });
  // The mime layer checks added fields as setheader does: checking now moves any such error before the
  // first connection; the builds that send the message find each field formatted already (mime's field cache).
  checkMessageOptions(tok, { extraHeaders: envelope.addHeaders, omitHeaders: envelope.omitHeaders });

  return envelope;
}

/**
 * Reads the options and derives the envelope: every check that can fail
 * without a server fails here, so nothing is sent on bad input.
 */
export function planSend(tok: Token, args: readonly unknown[]): Plan {
  if (!isToken(tok)) throw new OptionError(COMMAND, undefined, 'the first argument must be a mime token');
  return planParsed(tok, parseOptions(COMMAND, SEND_CALL_OPTIONS, args));
}

/**
 * {@link planSend} for options already read by `parseOptions` with
 * {@link SENDMESSAGE_OPTIONS} (the pool's merged defaults and message options,
 * which a second reading would only copy). @internal
 */
export function planParsed(tok: Token, o: SendOptions): Plan {
  if (!isToken(tok)) throw new OptionError(COMMAND, undefined, 'the first argument must be a mime token');

  const extension = readExtensionOptions(o, COMMAND);
  const tlsimport = extension.tlsimport;
  const targets = readTargets(o, extension);
  const client = readClient(o, targets);

  const debug = o.debug ?? false;
  const bcc = o.bcc ?? 'same';
  const envelope = readEnvelope(tok, o, bcc);

  const username = o.username ?? '';
  const password = o.password ?? '';
  refuseControls('username', username);
  refuseControls('password', password);
  const oauth2 = o.oauth2;
  if (oauth2 !== undefined) refuseControls('oauth2', oauth2);

  const session: SessionSettings = {
    client,
    starttls: extension.starttls,
    tlspolicy: o.tlspolicy,
    tlsimport,
    tls: extension.tls,
    username,
    password,
    oauth2,
    insecureauth: o.insecureauth ?? false,
    debug,
    lookup: o.lookup,
    protocol: extension.protocol,
  };
  const message: MessageSettings = {
    envelope,
    atleastone: o.atleastone ?? false,
    bcc,
    maxsecs: o.maxsecs ?? 120,
    requiretls: extension.requiretls,
    dsn: extension.dsn,
    chunking: extension.chunking,
    binarymime: extension.binarymime,
    dkim: extension.dkim,
    signal: readSignal(COMMAND, o.signal),
  };
  return new Plan(targets, session, message);
}
