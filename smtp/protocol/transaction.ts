/**
 * One mail transaction (RFC 5321 §3.3) planned as a value: the MAIL FROM and
 * RCPT TO commands with their ESMTP parameters, and how the body travels. The
 * planner is pure: it reads the server's EHLO answers and what is known about
 * the message, and returns the transaction or refuses it before a byte is
 * written. The session executes the plan (transfer.ts).
 */
import { InvalidInputError, SmtpError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { checkMailbox } from './command';
import { type DsnOptions, type DsnPlan, planDsn } from './dsn';
import { BODY, type MailParameter, mailKeyword, parseMailParameter, parseRcptParameter, type RcptParameter, REQUIRETLS, SMTPUTF8 } from './parameters';
import type { Extensions } from './types';

/** What the caller asks of a transaction, checked before anything is sent ({@link readRequest}). */
export interface TransactionRequest {
  /** The envelope sender as given; '' is the null reverse-path. */
  readonly from: string;
  /** The envelope recipients as given, in order. */
  readonly to: readonly string[];
  /** The caller's own MAIL FROM parameters: a SIZE or BODY among them stands instead of the planned one. */
  readonly mailParams: readonly MailParameter[];
  /** The caller's own parameters for every RCPT TO. */
  readonly rcptParams: readonly RcptParameter[];
  readonly dsn: DsnPlan;
  readonly requiretls: boolean;
  /** BDAT when the server offers CHUNKING. */
  readonly chunking: boolean;
  readonly binarymime: boolean;
  /** The connection is TLS (REQUIRETLS asks for it). */
  readonly secure: boolean;
  /** The server's name, for the errors. */
  readonly server: string;
}

/** What is known about the message before MAIL (message-source.ts prepares it). */
export interface MessageFacts {
  /** Octets as sent, or null for a stream. */
  readonly size: number | null;
  /** Whether an octet is above 0x7F; null for a stream (not read ahead). */
  readonly eightBit: boolean | null;
  readonly eightBitOffset: number | null;
  /** The header block holds UTF-8 (RFC 6532), which needs SMTPUTF8. */
  readonly utf8Header?: boolean;
  /** A mime token, which can be re-encoded to 7 bits. */
  readonly token?: boolean;
}

/** How the body travels. */
export interface BodyPlan {
  /** DATA (dot-stuffed, ended by CRLF.CRLF) or BDAT chunks counted in octets (RFC 3030). */
  readonly transfer: 'DATA' | 'BDAT';
  /** BODY=BINARYMIME: the octets go untouched, with BDAT. */
  readonly binary: boolean;
  /** A mime token is re-encoded to 7 bits: no 8BITMIME, or binary parts that cannot go as they are. */
  readonly sevenBit: boolean;
}

/** One transaction, ready to execute. */
export interface Transaction {
  readonly mail: { readonly reversePath: string; readonly params: readonly MailParameter[] };
  /** In the order of the request's recipients; `recipient` is the address as given, `forwardPath` as sent. */
  readonly rcpts: ReadonlyArray<{ readonly recipient: string; readonly forwardPath: string; readonly params: readonly RcptParameter[] }>;
  readonly body: BodyPlan;
  /** A stream of unknown content to a server without 8BITMIME: an 8-bit octet in it ends the transfer before the end of data. */
  readonly guardSevenBit: boolean;
}

/** The options of `Session.sendmail` that shape the transaction. */
export interface RequestOptions {
  mailParams?: readonly string[];
  rcptParams?: readonly string[];
  dsn?: DsnOptions;
  requiretls?: boolean;
  chunking?: boolean;
  binarymime?: boolean;
}

const NON_ASCII = /[^\x00-\x7f]/;

// Every body plan is one of these: planning allocates none.
const BODIES: Readonly<Record<string, BodyPlan>> = {
  DATA: Object.freeze({ transfer: 'DATA', binary: false, sevenBit: false }),
  DATA7: Object.freeze({ transfer: 'DATA', binary: false, sevenBit: true }),
  BDAT: Object.freeze({ transfer: 'BDAT', binary: false, sevenBit: false }),
  BDAT7: Object.freeze({ transfer: 'BDAT', binary: false, sevenBit: true }),
  BINARY: Object.freeze({ transfer: 'BDAT', binary: true, sevenBit: false }),
};

/**
 * Reads and checks a transaction's input: addresses and parameters that could
 * not go on a command line are refused (InvalidInputError, OptionError for DSN)
 * before anything is sent, EHLO included.
 */
export function readRequest(from: string, recipients: string | readonly string[], options: RequestOptions, place: { secure: boolean; server: string }): TransactionRequest {
  const to = typeof recipients === 'string' ? [recipients] : [...recipients];
  if (to.length === 0) throw new InvalidInputError('recipients', 'no recipients');
  if (typeof from !== 'string') throw new InvalidInputError('address', 'an address must be a string');
  checkMailbox('sender', from);
  for (const address of to) {
    if (typeof address !== 'string') throw new InvalidInputError('address', 'an address must be a string');
    if (address === '') throw new InvalidInputError('recipient', 'an empty recipient address');
    checkMailbox('recipient', address);
  }
  return {
    from,
    to,
    mailParams: options.mailParams?.map(parseMailParameter) ?? [],
    rcptParams: options.rcptParams?.map(parseRcptParameter) ?? [],
    dsn: planDsn(options.dsn, 'smtp.sendmail'),
    requiretls: options.requiretls === true,
    chunking: options.chunking ?? true,
    binarymime: options.binarymime === true,
    secure: place.secure,
    server: place.server,
  };
}

/** Whether the server's EHLO reply offered `keyword` (never, after HELO). */
function offers(ext: Extensions | null, keyword: string): boolean {
  return ext?.has(keyword) ?? false;
}

function refused(code: 'EEXTENSION' | 'ETLS', message: string): SmtpError {
  return new SmtpError(code, 'mail', message);
}

/**
 * How the body will travel, and the refusals that come before the message is
 * read: REQUIRETLS on a connection that is not TLS (`ETLS`) or to a server
 * without it, DSN required of a server without it, a binary message that
 * neither BDAT with BINARYMIME nor re-encoding can carry (`EEXTENSION`).
 */
export function planBody(ext: Extensions | null, request: TransactionRequest, token: boolean): BodyPlan {
  const server = request.server;
  if (request.requiretls) {
    if (!request.secure) throw refused('ETLS', `requiretls: the connection to ${server} is not TLS, so the message is not sent in clear text`);
    if (!offers(ext, 'REQUIRETLS')) throw refused('EEXTENSION', `requiretls: ${server} does not offer REQUIRETLS (RFC 8689), so the message is not sent`);
  }
  if (request.dsn.required && !offers(ext, 'DSN')) {
    throw refused('EEXTENSION', `dsnrequired: ${server} does not offer DSN (RFC 3461), so the message is not sent`);
  }
  const chunking = request.chunking && offers(ext, 'CHUNKING');
  if (request.binarymime) {
    if (chunking && offers(ext, 'BINARYMIME')) return BODIES.BINARY;
    if (!token) throw refused('EEXTENSION', `binarymime: ${server} does not offer CHUNKING and BINARYMIME (RFC 3030), and DATA would change a binary message`);
    // A binary token without BINARYMIME is re-encoded to 7 bits: DATA would rewrite its line ends.
    return chunking ? BODIES.BDAT7 : BODIES.DATA7;
  }
  const sevenBit = !offers(ext, '8BITMIME');
  return chunking ? (sevenBit ? BODIES.BDAT7 : BODIES.BDAT) : sevenBit ? BODIES.DATA7 : BODIES.DATA;
}

/**
 * An address as sent: a non-ASCII domain becomes its A-label form (IDNA) so a
 * server without SMTPUTF8 can route it; a non-ASCII local part needs SMTPUTF8,
 * and a server without it is refused (RFC 6531): another server may offer it.
 */
function pathFor(address: string, utf8: boolean, server: string): string {
  if (utf8 || !NON_ASCII.test(address)) return address;
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  if (NON_ASCII.test(local)) {
    throw refused('EEXTENSION', `${JSON.stringify(address)} has a non-ASCII local part and ${server} does not offer SMTPUTF8 (RFC 6531): the message is not sent`);
  }
  return `${local}@${toASCIIDomain(address.slice(at + 1))}`;
}

/**
 * What an 8-bit message needs of a server without 8BITMIME: a message known
 * to hold 8-bit octets is refused before anything is sent; for a stream, the
 * answer is to watch it as it is sent. Also the rule of `Session.data()`.
 */
export function eightBitGuard(ext: Extensions | null, message: MessageFacts, server: string, stage: 'mail' | 'data'): boolean {
  if (ext?.has('8BITMIME')) return false;
  if (message.eightBit === true) {
    throw new SmtpError(
      'EEXTENSION',
      stage,
      `8-bit byte at offset ${message.eightBitOffset ?? '?'} but ${server} does not offer 8BITMIME: encode the body (a mime token is re-encoded automatically)`,
    );
  }
  return message.eightBit === null;
}

/**
 * Plans one transaction on a server whose EHLO reply was `ext` (null after
 * HELO). MAIL FROM gets SIZE when offered (refused with `ESIZE` above the
 * server's limit), BODY=8BITMIME or BINARYMIME as the message needs, SMTPUTF8
 * for UTF-8 addresses or header fields, REQUIRETLS, and the DSN requests when
 * DSN is offered; a caller's own SIZE, BODY, SMTPUTF8 or REQUIRETLS stands
 * instead of the planned one. Throws `SmtpError` (stage `mail`, no server
 * yet: the session adds it) for what the server cannot carry.
 */
export function planTransaction(ext: Extensions | null, message: MessageFacts, request: TransactionRequest): Transaction {
  const body = planBody(ext, request, message.token === true);
  const server = request.server;
  const utf8Offered = offers(ext, 'SMTPUTF8');
  const reversePath = pathFor(request.from, utf8Offered, server);
  let utf8Addresses = NON_ASCII.test(request.from);
  const forwardPaths = request.to.map((address) => {
    if (!utf8Addresses && NON_ASCII.test(address)) utf8Addresses = true;
    return pathFor(address, utf8Offered, server);
  });

  const given = request.mailParams;
  const params: MailParameter[] = [...given];
  const has = (keyword: string): boolean => given.some((p) => mailKeyword(p) === keyword);
  if (message.size !== null && ext?.size && message.size > ext.size) {
    throw new SmtpError('ESIZE', 'mail', `message of ${message.size} octets is larger than the ${ext.size} octets ${server} accepts`);
  }
  if (message.size !== null && offers(ext, 'SIZE') && !has('SIZE')) params.push({ kind: 'SIZE', octets: message.size });
  let guardSevenBit = false;
  if (body.binary) {
    if (!has('BODY')) params.push(BODY.BINARYMIME);
  } else if (message.eightBit !== false) {
    if (offers(ext, '8BITMIME')) {
      if (!has('BODY')) params.push(BODY['8BITMIME']);
    } else {
      // A caller who declared the body has answered for it; a stream is still watched.
      guardSevenBit = has('BODY') ? message.eightBit === null : eightBitGuard(ext, message, server, 'mail');
    }
  }
  // RFC 6531 §3.4: SMTPUTF8 when an address or the header holds UTF-8.
  if ((utf8Addresses || message.utf8Header === true) && utf8Offered && !has('SMTPUTF8')) params.push(SMTPUTF8);
  if (request.requiretls && !has('REQUIRETLS')) params.push(REQUIRETLS);
  // Without DSN offered the requests are left out (planBody refused such a server when they were required).
  const withDsn = request.dsn.requested && offers(ext, 'DSN');
  if (withDsn) params.push(...request.dsn.mailParams);

  const rcpts = request.to.map((recipient, i) => ({
    recipient,
    forwardPath: forwardPaths[i],
    params: withDsn ? [...request.rcptParams, ...request.dsn.rcptParams(recipient)] : request.rcptParams,
  }));
  return { mail: { reversePath, params }, rcpts, body, guardSevenBit };
}
