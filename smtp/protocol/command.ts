/**
 * SMTP commands as values (RFC 5321 §4.1.1). Each one knows its exact line and
 * how long the server may take to answer it; {@link commandBytes} is the one
 * place where lines become bytes, and it refuses CR, LF and NUL, so no value the
 * caller passes can end a command early and start another (docs/security.md, A1).
 */
import { InvalidInputError, type Stage } from '../../lib/errors';
import { refuseControls, refuseLineBreaks } from '../../lib/text';
import { type MailParameter, mailParameterText, type RcptParameter, rcptParameterText } from './parameters';

/** One command line, ready to write. */
export interface Command {
  /** The verb as sent (`MAIL`, `RCPT`, ...); '' for an AUTH response line. */
  readonly verb: string;
  /** The line without CRLF. */
  readonly line: string;
  /** The stage an error on this command is reported under. */
  readonly stage: Stage;
  /** RFC 5321 §4.5.3.2 minimum wait for the reply, in seconds. */
  readonly timeoutSecs: number;
  /** The line carries a credential: the debug transcript shows it masked. */
  readonly secret: boolean;
}

// RFC 5321 §4.5.3.2: the least time a client should wait for each reply, but for the greeting.
export const TIMEOUTS = {
  // The RFC's 5 minutes, capped by maxsecs, made a wrong port (an HTTP server, a port that says
  // nothing) look like a hung send for 2 minutes. Greeting delays that servers use against spam
  // (Postfix's postscreen, Sendmail's greet_pause) last seconds: a minute leaves them room.
  greeting: 60,
  mail: 300,
  rcpt: 300,
  data: 120,
  /** Between two writes of message data. */
  block: 180,
  /** The reply to the final dot. */
  dot: 600,
  /** Anything else (EHLO, RSET, AUTH...): the RFC names none, MAIL's is the usual choice. */
  other: 300,
} as const;

// Domain or address literal, as EHLO/HELO take it; IDN names arrive here already as A-labels.
// Underscores are not in the RFC's grammar but are common in host names; they cannot end a line.
const CLIENT_NAME = /^(\[[^\[\]\\\s]+\]|[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?)$/;

function make(verb: string, line: string, stage: Stage, timeoutSecs: number, secret = false): Command {
  return { verb, line, stage, timeoutSecs, secret };
}

/**
 * Checks a mailbox for a reverse-path or forward-path: no controls, no angle
 * brackets, no white space outside a quoted local part. `''` is the null path.
 */
export function checkMailbox(field: string, address: string): string {
  refuseLineBreaks(field, address);
  refuseControls(field, address);
  // '<' or '>' inside the brackets would let a naive server read what follows as parameters (docs/security.md, A3).
  if (/[<>]/.test(address)) throw new InvalidInputError(field, `angle brackets are not allowed in an address: ${JSON.stringify(address)}`);
  let rest = address;
  if (address.startsWith('"')) {
    const close = /^"(?:[^"\\]|\\.)*"/.exec(address);
    if (!close) throw new InvalidInputError(field, `unterminated quoted local part: ${JSON.stringify(address)}`);
    rest = address.slice(close[0].length);
  }
  if (/\s/.test(rest)) throw new InvalidInputError(field, `white space outside a quoted local part: ${JSON.stringify(address)}`);
  return address;
}

/** Checks the name given in EHLO/HELO: a domain or an address literal, nothing that could end the line. */
export function checkClientName(name: string): string {
  refuseLineBreaks('client', name);
  refuseControls('client', name);
  if (name.length > 255 || !CLIENT_NAME.test(name)) throw new InvalidInputError('client', `not a domain name or address literal: ${JSON.stringify(name)}`);
  return name;
}

export function ehlo(name: string): Command {
  return make('EHLO', `EHLO ${checkClientName(name)}`, 'ehlo', TIMEOUTS.other);
}

/** LMTP's greeting command (RFC 2033 §4.1), answered like EHLO. */
export function lhlo(name: string): Command {
  return make('LHLO', `LHLO ${checkClientName(name)}`, 'ehlo', TIMEOUTS.other);
}

export function helo(name: string): Command {
  return make('HELO', `HELO ${checkClientName(name)}`, 'helo', TIMEOUTS.other);
}

export function starttls(): Command {
  return make('STARTTLS', 'STARTTLS', 'starttls', TIMEOUTS.other);
}

/** `MAIL FROM:<from> params`; '' is the null reverse-path `<>`. */
export function mail(from: string, params?: readonly MailParameter[]): Command {
  let line = `MAIL FROM:<${checkMailbox('sender', from)}>`;
  if (params) for (const param of params) line += ' ' + mailParameterText(param);
  return make('MAIL', line, 'mail', TIMEOUTS.mail);
}

/** `RCPT TO:<to> params`. */
export function rcpt(to: string, params?: readonly RcptParameter[]): Command {
  if (to === '') throw new InvalidInputError('recipient', 'an empty recipient address');
  let line = `RCPT TO:<${checkMailbox('recipient', to)}>`;
  if (params) for (const param of params) line += ' ' + rcptParameterText(param);
  return make('RCPT', line, 'rcpt', TIMEOUTS.rcpt);
}

export function data(): Command {
  return make('DATA', 'DATA', 'data', TIMEOUTS.data);
}

/**
 * `BDAT size [LAST]` (RFC 3030 §2): the next `size` octets are message data.
 * The last chunk's reply is the message's final reply, so it gets the final dot's wait.
 */
export function bdat(size: number, last: boolean): Command {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidInputError('BDAT', `not a chunk size: ${size}`);
  return last
    ? make('BDAT', `BDAT ${size} LAST`, 'dot', TIMEOUTS.dot)
    : make('BDAT', `BDAT ${size}`, 'data', TIMEOUTS.block);
}

export function rset(): Command {
  return make('RSET', 'RSET', 'rset', TIMEOUTS.other);
}

export function noop(): Command {
  return make('NOOP', 'NOOP', 'noop', TIMEOUTS.other);
}

export function quit(): Command {
  return make('QUIT', 'QUIT', 'quit', TIMEOUTS.other);
}

export function vrfy(what: string): Command {
  refuseControls('vrfy', what);
  if (what.trim() === '') throw new InvalidInputError('vrfy', 'nothing to verify');
  return make('VRFY', `VRFY ${what}`, 'vrfy', TIMEOUTS.other);
}

export function expn(list: string): Command {
  refuseControls('expn', list);
  if (list.trim() === '') throw new InvalidInputError('expn', 'no list to expand');
  return make('EXPN', `EXPN ${list}`, 'expn', TIMEOUTS.other);
}

/** `AUTH mechanism [initial-response]` (RFC 4954 §4); an initial response is a credential. */
export function auth(mechanism: string, initialResponse?: string): Command {
  if (!/^[A-Z0-9_-]{1,20}$/.test(mechanism)) throw new InvalidInputError('mechanism', `not a SASL mechanism name: ${JSON.stringify(mechanism)}`);
  if (initialResponse === undefined) return make('AUTH', `AUTH ${mechanism}`, 'auth', TIMEOUTS.other);
  // RFC 4954: an empty initial response is sent as '='.
  return make('AUTH', `AUTH ${mechanism} ${initialResponse === '' ? '=' : initialResponse}`, 'auth', TIMEOUTS.other, true);
}

/** A line answering a 334 challenge (base64, '' or '*' to cancel); always treated as a credential. */
export function authResponse(response: string): Command {
  return make('', response, 'auth', TIMEOUTS.other, response !== '*' && response !== '');
}

/**
 * The one writer of command lines: each line plus CRLF, as UTF-8 (SMTPUTF8
 * addresses), all in one buffer so pipelined commands leave in one write.
 * Throws an {@link InvalidInputError} before anything is produced if any line
 * holds CR, LF or NUL.
 */
export function commandBytes(commands: readonly Command[]): Buffer {
  for (const command of commands) refuseLineBreaks(command.verb === '' ? 'auth response' : `${command.verb} command`, command.line);
  return Buffer.from(commands.map((c) => `${c.line}\r\n`).join(''), 'utf8');
}
