/**
 * `smtp.sendmessage`: Tcllib smtp 1.5.1's one-call send, built on the session.
 * It reads the options, derives the envelope (envelope.ts), then walks the
 * servers in order and follows the reply-by-stage table of SECURITY.md to
 * decide, after each failure, whether the next server may try: failures before
 * the message was accepted move on, a permanent refusal of the sender or the
 * message stops, and a lost reply after the end of data is reported as an
 * uncertain outcome, never retried behind the caller's back.
 */
import type { LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { type Attempt, InvalidInputError, OptionError, type Rejected, SmtpError } from '../lib/errors';
import { type OptionSpecs, type ParsedOptions, parseOptions, readBoolean, type TclWords } from '../lib/options';
import { refuseControls } from '../lib/text';
import { formatDate } from '../mime/codec/datetime';
import { uniqueID } from '../mime/build/uniqueid';
import { deriveEnvelope, type Envelope } from './envelope';
import { buildDigest } from './digest';
import { checkClientName } from './protocol/command';
import { MODERN_OPTIONS, readModernOptions, type StartTlsMode } from './modern-options';
import type { DkimOptions, DkimSigner } from './dkim/sign';
import type { NotifyValue } from './protocol/dsn';
import { isSocketPath } from './protocol/connection';
import { refusedEntry } from './protocol/refused';
import { connect } from './protocol/session';
import { debugSink } from './protocol/debug';
import { prepareAhead, type PreparedAhead } from './protocol/message-source';
import type { MessageChanges, Session } from './protocol/types';
import { checkMessageOptions, getHeaderFields, isToken, type Token } from '../mime';

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

const COMMAND = 'smtp.sendmessage';

/** The option table for {@link parseOptions}. */
export const SENDMESSAGE_OPTIONS: OptionSpecs = {
  servers: { kind: 'list' },
  ports: { kind: 'integers', min: 1 },
  client: { kind: 'string' },
  queue: { kind: 'boolean' },
  atleastone: { kind: 'boolean' },
  originator: { kind: 'string' },
  recipients: { kind: 'any' },
  header: { kind: 'pair', repeat: true },
  usetls: { kind: 'boolean' },
  tlspolicy: { kind: 'function' },
  tlsimport: { kind: 'boolean' },
  username: { kind: 'string' },
  password: { kind: 'string' },
  debug: { kind: 'any' },
  maxsecs: { kind: 'integer', min: 1 },
  tls: { kind: 'any' },
  bcc: { kind: 'string', values: ['same', 'digest'] },
  insecureauth: { kind: 'boolean' },
  oauth2: { kind: 'string' },
  lookup: { kind: 'function' },
  ...MODERN_OPTIONS,
};

/** One (server, port) pair of the walk. */
export interface Target {
  server: string;
  port: number;
}

/** Everything a send needs, checked before the first connection. */
export interface Plan {
  targets: Target[];
  /** The EHLO name; undefined lets the session name this host. */
  client: string | undefined;
  atleastone: boolean;
  usetls: boolean;
  tlspolicy?: TlsPolicy;
  tlsimport: boolean;
  tls?: ConnectionOptions;
  username: string;
  password: string;
  oauth2?: string;
  insecureauth: boolean;
  debug: boolean | ((line: string) => void);
  maxsecs: number;
  bcc: 'same' | 'digest';
  envelope: Envelope;
  lookup?: LookupFunction;
  /** `lmtp` for LMTP (RFC 2033). */
  protocol: 'smtp' | 'lmtp';
  /** STARTTLS policy; `usetls` is false exactly when this is `never`. */
  starttls: StartTlsMode;
  requiretls: boolean;
  dsn?: import('./protocol/dsn').DsnOptions;
  chunking: boolean;
  binarymime: boolean;
  dkim?: DkimSigner;
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
 * Reads the options and derives the envelope: every check that can fail
 * without a server fails here, so nothing is sent on bad input.
 */
export function planSend(tok: Token, args: readonly unknown[]): Plan {
  if (!isToken(tok)) throw new OptionError(COMMAND, undefined, 'the first argument must be a mime token');
  return planParsed(tok, parseOptions(COMMAND, SENDMESSAGE_OPTIONS, args));
}

/**
 * {@link planSend} for options already read by `parseOptions` with
 * {@link SENDMESSAGE_OPTIONS} (the pool's merged defaults and message options,
 * which a second reading would only copy). @internal
 */
export function planParsed(tok: Token, o: ParsedOptions): Plan {
  if (!isToken(tok)) throw new OptionError(COMMAND, undefined, 'the first argument must be a mime token');

  const servers = ((o.servers as string[] | undefined) ?? ['localhost']).filter((s) => s !== '');
  if (servers.length === 0) throw new OptionError(COMMAND, 'servers', '-servers needs at least one host');
  for (const server of servers) {
    refuseControls('servers', server);
    if (/\s/.test(server)) throw new InvalidInputError('servers', `${JSON.stringify(server)} is not a host name`);
  }
  const modern = readModernOptions(o, COMMAND);
  const tlsimport = modern.tlsimport;
  // RFC 8314: 465 for implicit TLS; RFC 2033 names no LMTP port but 24 is the one in use.
  const ports = (o.ports as number[] | undefined) ?? [tlsimport ? 465 : modern.protocol === 'lmtp' ? 24 : 25];
  if (ports.length === 0) throw new OptionError(COMMAND, 'ports', '-ports needs at least one port');
  for (const port of ports) {
    if (port > 65535) throw new OptionError(COMMAND, 'ports', `-ports: ${port} is not a TCP port`);
  }
  // API.md: the last port repeats for the servers beyond the port list.
  const targets = servers.map((server, i) => ({ server, port: ports[Math.min(i, ports.length - 1)] }));

  // API.md: 'localhost' when any server is loopback; otherwise the session names this host (or its address literal).
  let client: string | undefined = (o.client as string | undefined) || undefined;
  if (client === undefined && servers.some((s) => LOOPBACK.has(s.toLowerCase()) || isSocketPath(s))) client = 'localhost';
  if (client !== undefined) {
    refuseControls('client', client);
    if (!/[^\x00-\x7f]/.test(client)) checkClientName(client);
  }

  let recipients: string | undefined;
  if (o.recipients !== undefined) {
    const r = o.recipients;
    if (typeof r === 'string') recipients = r;
    else if (Array.isArray(r) && r.every((x) => typeof x === 'string')) recipients = r.join(',');
    else throw new OptionError(COMMAND, 'recipients', '-recipients expects a string or a list of strings');
  }

  let debug: boolean | ((line: string) => void) = false;
  if (typeof o.debug === 'function') debug = o.debug as (line: string) => void;
  else if (o.debug !== undefined) debug = readBoolean(COMMAND, 'debug', o.debug);

  const header = ((o.header as Array<[string, unknown]> | undefined) ?? []).map(([key, value]): [string, string] => {
    if (typeof value !== 'string') throw new OptionError(COMMAND, 'header', `-header ${key}: the value must be a string`);
    return [key, value];
  });
  const bcc = ((o.bcc as string | undefined) ?? 'same') as 'same' | 'digest';
  const envelope = deriveEnvelope({
    originator: o.originator as string | undefined,
    recipients,
    header,
    partHeaders: getHeaderFields(tok),
    bcc,
    stamp: { date: dateNow, messageId: () => uniqueID() },
  });
  // The mime layer checks added fields as setheader does: checking now moves any such error before the
  // first connection; the builds that send the message find each field formatted already (mime's field cache).
  checkMessageOptions(tok, { extraHeaders: envelope.addHeaders, omitHeaders: envelope.omitHeaders });

  const username = (o.username as string | undefined) ?? '';
  const password = (o.password as string | undefined) ?? '';
  refuseControls('username', username);
  refuseControls('password', password);
  const oauth2 = o.oauth2 as string | undefined;
  if (oauth2 !== undefined) refuseControls('oauth2', oauth2);

  return {
    targets,
    client,
    atleastone: (o.atleastone as boolean | undefined) ?? false,
    usetls: modern.starttls !== 'never',
    tlspolicy: o.tlspolicy as TlsPolicy | undefined,
    tlsimport,
    tls: modern.tls,
    username,
    password,
    oauth2,
    insecureauth: (o.insecureauth as boolean | undefined) ?? false,
    debug,
    maxsecs: (o.maxsecs as number | undefined) ?? 120,
    bcc,
    envelope,
    lookup: o.lookup as LookupFunction | undefined,
    protocol: modern.protocol,
    starttls: modern.starttls,
    requiretls: modern.requiretls,
    dsn: modern.dsn,
    chunking: modern.chunking,
    binarymime: modern.binarymime,
    dkim: modern.dkim,
  };
}

/** How one server's try ended, when it did not end the whole send. */
type Outcome = { sent: true; rejected: Rejected[] } | { sent: false };

/** Tcllib's diagnostic for an error: the reply's first line (enhanced code included), else the local error's message. */
export function diagnosticOf(error: SmtpError): string {
  if (error.replyCode !== null && error.lines.length > 0) return error.lines[0].trim();
  return error.message;
}

/** The record of one failed try at one server, as `error.attempts` lists it. */
export function attemptOf(target: Target, error: SmtpError): Attempt {
  return { ...target, stage: error.stage, code: error.replyCode, enhanced: error.enhanced, diagnostic: diagnosticOf(error) };
}

/**
 * The reply-by-stage table of SECURITY.md: may the next server try after this
 * failure? Only a failure before the message was accepted, and not a
 * permanent refusal of the sender, the recipients or the message, moves on.
 */
export function movesOn(error: SmtpError): boolean {
  if (error.code === 'EUNCERTAIN') return false; // the dot went out: a retry may deliver twice
  if (error.code === 'ERECIPIENTS') return false; // recipients are judged one by one, not per server
  if (error.stage === 'body') return false; // our own message source failed: every server would see the same
  if (error.replyCode === 421) return true; // the server is closing the channel: RFC 5321 §3.8
  switch (error.stage) {
    case 'connect':
    case 'greeting':
    case 'ehlo':
    case 'helo':
    case 'starttls':
    case 'tls':
    case 'auth':
      return true;
    default:
      // MAIL, DATA, the dot: a lost or garbled channel, a local size limit, or a temporary refusal moves on; 5xx stops.
      return error.replyCode === null || error.replyCode < 500;
  }
}

/** Refused recipients of a follow-up transaction that failed as a whole: each gets the transaction's failure. */
export function refusedAll(addresses: readonly string[], error: SmtpError, what: string): Rejected[] {
  if (error.code === 'ERECIPIENTS' && error.rejected.length > 0) {
    const refused = new Set(error.rejected.map(([a]) => a.toLowerCase()));
    const others = addresses.filter((a) => !refused.has(a.toLowerCase()));
    return [...error.rejected, ...others.map((a) => refusedEntry(a, 0, `${what} not sent: ${error.message}`, null))];
  }
  const uncertain = error.code === 'EUNCERTAIN';
  const note = uncertain ? `${what}: no final reply, it may have been delivered` : `${what} not sent`;
  return addresses.map((a) => refusedEntry(a, error.replyCode ?? 0, `${note}: ${diagnosticOf(error)}`, error.enhanced));
}

/**
 * One transaction of a token as it is transmitted: the session serializes the
 * token with the fields added and left out (the part itself is never changed),
 * declares SIZE and BODY from it, and re-encodes 8-bit bodies without 8BITMIME.
 */
async function sendToken(
  session: Session,
  tok: Token,
  changes: MessageChanges,
  from: string,
  to: string[],
  atleastone: boolean,
  plan: Plan,
  first: TransactOptions,
): Promise<Rejected[]> {
  // RFC 6531: a non-ASCII local part cannot be written for a server without SMTPUTF8. The session would refuse it
  // as bad input; here it is this server's shortcoming, so the walk may try one that offers SMTPUTF8.
  const local = [from, ...to].find((address) => /[^\x00-\x7f]/.test(address.slice(0, Math.max(0, address.lastIndexOf('@')))));
  if (local !== undefined && !session.hasExtension('SMTPUTF8')) {
    const error = new SmtpError('EEXTENSION', 'mail', `${JSON.stringify(local)} has a non-ASCII local part and ${session.server} does not offer SMTPUTF8 (RFC 6531): the message is not sent`);
    error.server = session.server;
    error.port = session.port;
    throw error;
  }
  return session.sendmail(from, to, tok, {
    atleastone,
    changes,
    beforeEndOfData: first.beforeEndOfData,
    afterEndOfData: first.afterEndOfData,
    disposable: first.disposable,
    dsn: plan.dsn,
    requiretls: plan.requiretls,
    chunking: plan.chunking,
    binarymime: plan.binarymime,
    dkim: plan.dkim,
    ahead: first.ahead,
  });
}

/** The transmitted copy's changes to the token: the fields the envelope adds and leaves out. */
function changesOf(env: Envelope): MessageChanges {
  return { extraHeaders: env.addHeaders, omitHeaders: env.omitHeaders };
}

/** What a layer built on sendmessage (smtp.pool, smtp.sendmany) may add to its transactions. */
export interface TransactOptions {
  /** Passed to every transaction of the message: runs just before each end of data (a bulk journal's hook). */
  beforeEndOfData?: () => void | Promise<void>;
  /** The message's first transaction prepared ahead ({@link prepareAhead}): for this token and plan only. */
  ahead?: PreparedAhead;
  /** The session is closed if the message's first transaction fails (sendmessage's own session); see SendmailOptions. */
  disposable?: boolean;
  /** Called when the first transaction's end of data is written: the session may take the next message now (smtp.pool). */
  afterEndOfData?: () => void;
}

/**
 * Sends on an open, greeted session: the message, any follow-up transactions
 * for recipients the server deferred with 452 (RFC 5321 §4.5.3.1.10), then the
 * blind-copy digest. Only the first transaction decides whether the message
 * was accepted; the later ones report their failures as refused recipients.
 */
export async function transact(session: Session, tok: Token, plan: Plan, opts: TransactOptions = {}): Promise<Rejected[]> {
  const env = plan.envelope;
  const changes = changesOf(env);
  // Only the first transaction may use what was prepared ahead, or drop the connection on a refusal.
  const later: TransactOptions = { beforeEndOfData: opts.beforeEndOfData };
  let rejected = await sendToken(session, tok, changes, env.sender, env.recipients, plan.atleastone, plan, opts);

  if (plan.atleastone) {
    let deferred = rejected.filter(([, code]) => code === 452).map(([a]) => a);
    while (deferred.length > 0) {
      const settled = rejected.filter(([, code]) => code !== 452);
      try {
        rejected = [...settled, ...(await sendToken(session, tok, changes, env.sender, deferred, true, plan, later))];
      } catch (error) {
        if (!(error instanceof SmtpError)) throw error;
        rejected = [...settled, ...refusedAll(deferred, error, 'deferred recipients')];
        break;
      }
      const again = rejected.filter(([, code]) => code === 452).map(([a]) => a);
      if (again.length >= deferred.length) break;
      deferred = again;
    }
  }

  if (env.blind.length > 0) {
    try {
      const digest = await buildDigest(tok, env);
      try {
        rejected = [...rejected, ...(await sendToken(session, digest.token, {}, env.sender, env.blind, true, plan, later))];
      } finally {
        digest.release();
      }
    } catch (error) {
      // The message itself was accepted: a failed copy is reported per blind recipient, never thrown.
      const failure = error instanceof SmtpError
        ? error
        : new SmtpError('ESOURCE', 'body', `the digest could not be built: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      rejected = [...rejected, ...refusedAll(env.blind, failure, 'Bcc copy')];
    }
  }
  return rejected;
}

async function decideTls(plan: Plan, target: Target, error: SmtpError): Promise<TlsVerdict> {
  if (!plan.tlspolicy) return 'secure';
  const code = error.replyCode ?? 400;
  try {
    const verdict = await plan.tlspolicy(code, diagnosticOf(error), { stage: error.stage as 'starttls' | 'tls', ...target, error });
    return verdict === 'insecure' ? 'insecure' : 'secure';
  } catch {
    return 'secure'; // Tcllib: an error in the policy gives up the server
  }
}

/**
 * Opens a session to one server and readies it for transactions: EHLO (or
 * HELO), STARTTLS as `usetls` and `tlspolicy` decide, AUTH. Resolves to null
 * when this server is given up, with each failure recorded in `attempts`;
 * throws when the table says a failure ends the walk. `maxsecs` is the
 * session's overall deadline (default the plan's: one server, one message).
 */
export async function openSession(plan: Plan, target: Target, attempts: Attempt[], maxsecs: number = plan.maxsecs): Promise<Session | null> {
  const log = debugSink(plan.debug);
  const deadline = Date.now() + maxsecs * 1000;
  let usetls = plan.usetls;

  for (let round = 0; round < 2; round++) {
    log?.(`Trying ${target.server}:${target.port}...`);
    let session: Session | undefined;
    let reconnect = false;
    let ready = false;
    try {
      session = await connect({
        server: target.server,
        port: target.port,
        client: plan.client,
        tls: plan.tlsimport ? plan.tls ?? true : undefined,
        maxsecs: Math.max(0.001, (deadline - Date.now()) / 1000),
        debug: plan.debug,
        insecureauth: plan.insecureauth,
        lookup: plan.lookup,
        protocol: plan.protocol,
      });
      await session.ehloOrHelo();

      // STARTTLS-stripping defence (RFC 8314 §5, SECURITY.md A4): with TLS required, a server that does not
      // offer STARTTLS, or fails it, is given up; nothing goes in clear text and no policy can say otherwise.
      const required = plan.starttls === 'required';
      if (required && !session.secure && !session.hasExtension('STARTTLS')) {
        throw new SmtpError('ETLS', 'starttls', `TLS is required but ${target.server} does not offer STARTTLS: nothing is sent in clear text`);
      }
      if (usetls && !session.secure && session.hasExtension('STARTTLS')) {
        try {
          await session.starttls(plan.tls);
        } catch (error) {
          if (!(error instanceof SmtpError) || (error.stage !== 'starttls' && error.stage !== 'tls')) throw error;
          if (required) {
            attempts.push({ ...attemptOf(target, error), diagnostic: `TLS is required and STARTTLS failed, nothing is sent in clear text: ${diagnosticOf(error)}` });
            return null;
          }
          attempts.push(attemptOf(target, error));
          if ((await decideTls(plan, target, error)) !== 'insecure') return null;
          const usable = error.code === 'ETLS' && error.stage === 'starttls' && error.replyCode !== null && error.replyCode !== 421;
          if (!usable) {
            // The policy chose plaintext but this channel is gone: open a fresh one and leave STARTTLS alone.
            usetls = false;
            reconnect = true;
            continue;
          }
        }
      }

      if (plan.username !== '') {
        await session.login(plan.username, plan.password, plan.oauth2 === undefined ? undefined : { oauth2: plan.oauth2 });
      }
      ready = true;
      return session;
    } catch (error) {
      if (!(error instanceof SmtpError)) throw error;
      attempts.push(attemptOf(target, error));
      error.server ??= target.server;
      error.port ??= target.port;
      if (!movesOn(error)) throw finalError(error, attempts);
      return null;
    } finally {
      if (!ready) {
        if (session && !reconnect) await session.quit();
        else session?.close();
      }
    }
  }
  return null;
}

/** One server: a session readied by {@link openSession}, then the transactions, then QUIT. */
async function tryServer(tok: Token, plan: Plan, target: Target, attempts: Attempt[], ahead: PreparedAhead): Promise<Outcome> {
  const session = await openSession(plan, target, attempts);
  if (!session) return { sent: false };
  let rejected: Rejected[];
  try {
    // When no further transaction can follow (no Bcc copy; no 452 follow-ups without atleastone), QUIT goes out
    // with the end of data (RFC 2920: QUIT may end a group), and its reply is read after the final reply.
    const last = plan.envelope.blind.length === 0 && !plan.atleastone;
    const afterEndOfData = last ? (): void => void session.quit() : undefined;
    rejected = await transact(session, tok, plan, { ahead, disposable: true, afterEndOfData });
  } catch (error) {
    await session.quit();
    if (!(error instanceof SmtpError)) throw error;
    attempts.push(attemptOf(target, error));
    error.server ??= target.server;
    error.port ??= target.port;
    if (!movesOn(error)) throw finalError(error, attempts);
    return { sent: false };
  }
  // The outcome was settled by the final reply to the end of data: QUIT's reply and the close are not awaited
  // (a round trip per message). quit() never rejects, and closes the socket on its own within QUIT_WAIT_SECS
  // plus a second's grace however the server behaves.
  await quitStarted(session);
  return { sent: true, rejected };
}

/** Starts QUIT and resolves once it has been handed to the socket, leaving its reply and the close to finish alone. */
function quitStarted(session: Session): Promise<void> {
  const finished = session.quit();
  // quit() writes QUIT in the step it queues after the session's last one, which has run: one turn of the
  // microtask queue puts QUIT on the wire; `finished` resolving first (a session already closed) ends the wait too.
  return Promise.race([finished, new Promise<void>((resolve) => setImmediate(resolve))]);
}

/** The error the caller gets when a server's answer ends the walk. */
export function finalError(error: SmtpError, attempts: Attempt[]): SmtpError {
  let out: SmtpError;
  if (error.code === 'ESMTP' && error.replyCode !== null) {
    // Tcllib 1.20's wording: "553: 5.7.1 sender rejected".
    out = new SmtpError('ESMTP', error.stage, `${error.replyCode}: ${diagnosticOf(error)}`, {
      replyCode: error.replyCode,
      enhanced: error.enhanced,
      lines: error.lines,
      cause: error,
    });
    out.rejected = error.rejected;
    out.server = error.server;
    out.port = error.port;
  } else {
    out = error;
  }
  out.attempts = [...attempts];
  return out;
}

/** The error when no server took the message: every attempt, in order, and the last one's reply. */
export function allFailed(attempts: Attempt[]): SmtpError {
  const last = attempts[attempts.length - 1];
  const summary = attempts
    .map((a) => `${a.server}:${a.port} ${a.stage}: ${a.code === null ? '' : `${a.code} `}${a.diagnostic}`)
    .join('; ');
  const error = new SmtpError('EALLFAILED', last?.stage ?? 'connect', `every server failed: ${summary}`, {
    replyCode: last?.code ?? null,
    enhanced: last?.enhanced ?? null,
  });
  error.attempts = [...attempts];
  if (last) {
    error.server = last.server;
    error.port = last.port;
  }
  return error;
}

/**
 * Sends a MIME part as Tcllib's `smtp::sendmessage` does, with its bugs fixed
 * (docs/smtp.md). Resolves to the recipients the server refused when the
 * message was nevertheless accepted; rejects with an {@link SmtpError}
 * (carrying `rejected` and `attempts`) whenever it was not, and with an
 * `UncertainDeliveryError` (code `EUNCERTAIN`) when the end of data went out but no final
 * reply came back. The part itself is never changed.
 *
 * ```tcl
 * smtp::sendmessage $tok -servers {mx1 mx2} -header {From me@x.org} -header {To a@y.org}
 * ```
 * ```ts
 * await smtp.sendmessage(tok, { servers: ['mx1', 'mx2'], header: [['From', 'me@x.org'], ['To', 'a@y.org']] });
 * await smtp.sendmessage(tok, '-servers', ['mx1', 'mx2'], '-header', ['From', 'me@x.org'], '-header', ['To', 'a@y.org']);
 * ```
 */
export function sendmessage(tok: Token, options?: SendMessageOptions): Promise<Rejected[]>;
export function sendmessage(tok: Token, ...flat: TclWords): Promise<Rejected[]>;
export async function sendmessage(tok: Token, ...args: unknown[]): Promise<Rejected[]> {
  const plan = planSend(tok, args);
  const attempts: Attempt[] = [];
  // Serialized while the first connection opens, and kept for the next server if that one fails.
  const ahead = prepareAhead(tok, changesOf(plan.envelope));
  // A throw from tryServer ends the walk: a refusal that stops it, or input no server could take.
  for (const target of plan.targets) {
    const outcome = await tryServer(tok, plan, target, attempts, ahead);
    if (outcome.sent) return outcome.rejected;
  }
  throw allFailed(attempts);
}
