/**
 * The typed errors of tclmail. Every error carries a stable `code` string that
 * programs can switch on, and the data that explains it (the option, the field,
 * the SMTP reply, the failover attempts), never only a formatted message.
 */

/** A bad option: unknown name, missing value or wrong type. Thrown before any I/O. */
export class OptionError extends TypeError {
  readonly code = 'EOPTION' as const;
  constructor(
    /** The public command that was called, e.g. `mime.initialize`. */
    readonly command: string,
    /** The option at fault, without a dash (undefined for a malformed list). */
    readonly option: string | undefined,
    message: string,
  ) {
    super(`${command}: ${message}`);
    this.name = 'OptionError';
  }
}

/**
 * Input that would corrupt the output if it were written: CR, LF or NUL in a
 * header, an address, a command argument or a host name; a header key with
 * spaces or colons. Thrown before any byte is written.
 */
export class InvalidInputError extends TypeError {
  readonly code = 'EINVAL' as const;
  constructor(
    /** What was being checked, e.g. `header Subject`, `address`, `client`. */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidInputError';
  }
}

/** Stable codes of {@link MimeError}. */
export type MimeErrorCode =
  | 'EMIME' // a general MIME error (Tcllib's wording kept in the message)
  | 'ETOKEN' // not a token, or a token already finalized
  | 'EPARSE' // an existing message could not be parsed
  | 'EFILE' // a file body could not be read
  | 'EENCODING' // an unknown transfer encoding or charset
  | 'EHEADER'; // a header that may not be set, or is not there

/** An error of the mime module. The message keeps Tcllib's wording where Tcllib has one. */
export class MimeError extends Error {
  constructor(
    message: string,
    readonly code: MimeErrorCode = 'EMIME',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MimeError';
  }
}

/** The SMTP stages, in the order a transaction passes them. */
export type Stage =
  | 'options'
  | 'envelope'
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'helo'
  | 'starttls'
  | 'tls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'body'
  | 'dot'
  | 'rset'
  | 'noop'
  | 'vrfy'
  | 'expn'
  | 'quit';

/** One try at one server, as recorded by the failover walk. */
export interface Attempt {
  server: string;
  port: number;
  stage: Stage;
  /** The server's reply code, or null when there was no reply (drop, timeout, refused connection). */
  code: number | null;
  /** The enhanced status code (RFC 3463), e.g. `5.1.1`, when the server gave one. */
  enhanced: string | null;
  diagnostic: string;
}

/** A refused recipient, shaped as Tcllib returns it: address, code, diagnostic. */
export type Rejected = [address: string, code: number, diagnostic: string];

/** Stable codes of {@link SmtpError}. */
export type SmtpErrorCode =
  | 'ESMTP' // the server refused (see replyCode, enhanced)
  | 'ECONNECTION' // could not connect, or the connection was lost
  | 'ETIMEOUT' // a wait passed its deadline
  | 'ETLS' // STARTTLS refused, handshake failed or certificate not trusted
  | 'EAUTH' // authentication failed or was not possible safely
  | 'EPROTOCOL' // the server broke the protocol (garbage, endless reply)
  | 'ERECIPIENTS' // recipients refused so that the message was not sent
  | 'ESIZE' // the message is larger than the server accepts
  | 'EUNCERTAIN' // end of data sent, no final reply: the message may have been delivered
  | 'EALLFAILED' // every server of the failover walk failed
  | 'ESOURCE' // the message source failed while being sent: closed before the end of data, nothing delivered
  | 'EEXTENSION'; // the server lacks an extension this message needs (SMTPUTF8, DSN required, REQUIRETLS, BINARYMIME): nothing sent

/** An error of the smtp module: a refusal, a lost connection, a timeout, a TLS or AUTH failure. */
export class SmtpError extends Error {
  /** The server's reply code, when the error is a reply. */
  replyCode: number | null;
  /** The enhanced status code of that reply, when given. */
  enhanced: string | null;
  /** Every line of that reply, without the code. */
  lines: string[];
  /** Recipients that were refused, as `[address, code, diagnostic]`. */
  rejected: Rejected[] = [];
  /** Every try of the failover walk, in order (filled in by sendmessage). */
  attempts: Attempt[] = [];
  server?: string;
  port?: number;

  constructor(
    readonly code: SmtpErrorCode,
    readonly stage: Stage,
    message: string,
    detail: { replyCode?: number | null; enhanced?: string | null; lines?: string[]; cause?: unknown } = {},
  ) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'SmtpError';
    this.replyCode = detail.replyCode ?? null;
    this.enhanced = detail.enhanced ?? null;
    this.lines = detail.lines ?? [];
  }
}

/**
 * The end of data was written but no final reply came back (the connection was
 * lost or the wait timed out). The server may have taken the message: sending
 * it again may deliver it twice, so nothing is retried silently.
 */
export class UncertainDeliveryError extends SmtpError {
  constructor(message: string, detail: { cause?: unknown } = {}) {
    super('EUNCERTAIN', 'dot', `${message} (the message may have been delivered)`, detail);
    this.name = 'UncertainDeliveryError';
  }
}

/** The journal cannot be read, written or locked: a bulk run stops rather than send without it. */
export class JournalError extends Error {
  readonly code = 'EJOURNAL' as const;
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`journal ${file}: ${message}`, options);
    this.name = 'JournalError';
  }
}
