/**
 * The shapes shared by the session and the layers built on it (sendmessage,
 * pooling). The session itself is in `session.ts`; this file only names things.
 */
import type { ASYNC_DISPOSE } from '../../lib/dispose';
import type { LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';
import type { Rejected } from '../../lib/errors';
import type { Token } from '../../mime';
import type { DkimOptions, DkimSigner } from '../dkim/sign';
import type { DsnOptions } from './dsn';

/** One server reply (RFC 5321 §4.2), parsed once. */
export interface Reply {
  /** The three-digit reply code, e.g. 250. */
  code: number;
  /** The RFC 3463 enhanced status code of the first line, e.g. `2.1.5`, when present and of the code's class. */
  enhanced: string | null;
  /** The text of every line, without the code and its separator. */
  lines: string[];
  /** Tcllib's diagnostic: the first line's text after the code, trimmed (enhanced code included). */
  text: string;
}

/** What the EHLO reply told about the server (RFC 5321 §4.1.1.1). */
export interface Extensions {
  /** The domain the server named on the first line. */
  domain: string;
  /** The rest of the first line, after the domain. */
  greeting: string;
  /** Keywords, uppercased, each with its parameters (`SIZE` → ['10485760']). */
  keywords: ReadonlyMap<string, readonly string[]>;
  /** SASL mechanisms merged from every `AUTH` and `AUTH=` line, uppercased, without duplicates. */
  authMechanisms: readonly string[];
  /** The SIZE limit in octets; null when SIZE is not offered, 0 when offered without a limit. */
  size: number | null;
  /** True when the keyword was advertised (compared case-insensitively). */
  has(keyword: string): boolean;
  /** The keyword's parameters joined by one space, '' when it has none, null when it was not advertised. */
  param(keyword: string): string | null;
}

/** Options of {@link connect}. Names follow Tcllib's flags where Tcllib has one. */
export interface ConnectOptions {
  /**
   * Host name or address; default 'localhost'. Unicode names are sent to DNS as
   * A-labels. A path starting with `/` is a Unix socket (LMTP's usual home).
   */
  server?: string;
  /** Default 25; 465 when `tls` is set; 24 for `protocol: 'lmtp'`. Ignored for a Unix socket. */
  port?: number;
  /** The EHLO/HELO name; default 'localhost' for a loopback server, else the host name. */
  client?: string;
  /** Implicit TLS from the first byte (RFC 8314; Tcllib's -tlsimport), verified like STARTTLS: true, `'implicit'`, or Node TLS options. */
  tls?: boolean | 'implicit' | ConnectionOptions;
  /** `lmtp` speaks LMTP (RFC 2033): LHLO, and one reply per accepted recipient after the data. Default `smtp`. */
  protocol?: 'smtp' | 'lmtp';
  /** Overall deadline for everything on this connection, in seconds (default 120). */
  maxsecs?: number;
  /** Deadline for the TCP (and implicit TLS) connection, in seconds (default 30, never past maxsecs). */
  connectTimeoutSecs?: number;
  /** Write the dialogue as 'C: ...' / 'S: ...' lines: to stderr when true, else to the function. Secrets are masked. */
  debug?: boolean | ((line: string) => void);
  /** Allow AUTH over a connection that is neither TLS nor loopback (default false). */
  insecureauth?: boolean;
  /**
   * Resolves the server's name instead of DNS (Node's `net.connect` `lookup`):
   * a DNS-override hook, and how tests reach a non-loopback name on 127.0.0.1.
   * The name is still what TLS verifies and what the loopback rule of AUTH reads.
   */
  lookup?: LookupFunction;
  /**
   * Aborts the connection attempt (TCP, implicit TLS, the greeting): the call rejects with a
   * DOMException named `AbortError` and the socket is closed. Once connected, `close()` the session.
   */
  signal?: AbortSignal;
}

/** A message to send: bytes, text (sent as UTF-8), a stream of bytes, or a mime token. */
export type MessageSource = string | Buffer | Readable | Token;

/** Options of {@link Session.sendmail}. */
export interface SendmailOptions {
  /** Extra ESMTP parameters for MAIL FROM, e.g. ['RET=HDRS']. */
  mailParams?: string[];
  /** Extra ESMTP parameters for every RCPT TO, e.g. ['NOTIFY=FAILURE']. */
  rcptParams?: string[];
  /** Send when at least one recipient was accepted (default true, as smtplib); false: any refusal cancels. */
  atleastone?: boolean;
  /**
   * For a mime token: fields added to (`extraHeaders`) or left out of
   * (`omitHeaders`, e.g. Bcc) the transmitted copy at the top level. The part
   * itself is not changed. Ignored for other sources.
   */
  changes?: MessageChanges;
  /**
   * Called after the last byte of the message was written and before the end
   * of data (CRLF.CRLF) goes out; the end of data waits for it. A throw
   * abandons the message: the connection is closed without the end of data,
   * so nothing is delivered (`ESOURCE`). This is where a write-ahead journal
   * records a message that may be delivered from now on (smtp.sendmany).
   */
  beforeEndOfData?: () => void | Promise<void>;
  /** DSN requests (RFC 3461): NOTIFY, ORCPT per RCPT; RET, ENVID on MAIL. Sent only when the server offers DSN. */
  dsn?: DsnOptions;
  /**
   * REQUIRETLS (RFC 8689): the message must travel over TLS all the way. Refused
   * (nothing sent) when this connection is not TLS (`ETLS`) or the server does
   * not offer REQUIRETLS (`EEXTENSION`); otherwise MAIL carries `REQUIRETLS`.
   */
  requiretls?: boolean;
  /** BDAT (RFC 3030 CHUNKING) when the server offers it. Default true. */
  chunking?: boolean;
  /**
   * The message holds binary data (RFC 3030 BINARYMIME): sent untouched with
   * BDAT and `BODY=BINARYMIME` when the server offers CHUNKING and BINARYMIME.
   * Otherwise a mime token is re-encoded to 7 bits and any other source is
   * refused (`EEXTENSION`): DATA would change its line ends.
   */
  binarymime?: boolean;
  /**
   * Sign with DKIM (RFC 6376) over the bytes as transmitted; the message is read
   * twice (to sign, then to send), so a one-shot stream is refused.
   */
  dkim?: DkimSigner | DkimOptions;
}

/** Changes made to the transmitted copy of a mime token, never to the token's part. */
export interface MessageChanges {
  extraHeaders?: ReadonlyArray<readonly [string, string]>;
  omitHeaders?: readonly string[];
}

/** Options of {@link Session.login}. */
export interface LoginOptions {
  /** Use only this SASL mechanism (PLAIN, LOGIN, CRAM-MD5 or XOAUTH2). */
  mechanism?: string;
  /** An OAuth 2.0 access token: enables XOAUTH2, tried first. */
  oauth2?: string;
}

/** Where a session is in RFC 5321's sequence. */
export type SessionState = 'greeting' | 'ready' | 'mail' | 'rcpt' | 'data' | 'closed';

/**
 * One SMTP connection, step by step (Python smtplib's level). Every method waits
 * for its reply within the connection's deadlines; any 421 closes the session.
 * Calls made while another is running wait their turn. Tcllib has no session
 * object (`smtp::sendmessage` opens and closes its own); the Tcl notes below
 * name the step of sendmessage each method corresponds to.
 */
export interface Session {
  /** The host name or address connected to (as A-labels). */
  readonly server: string;
  readonly port: number;
  /** The 220 greeting. */
  readonly greeting: Reply;
  /** True once the connection is TLS (implicit or after STARTTLS). */
  readonly secure: boolean;
  /** Where the session is in the protocol. */
  readonly state: SessionState;
  /** `smtp`, or `lmtp` (RFC 2033). */
  readonly protocol: 'smtp' | 'lmtp';
  /**
   * The final replies of the latest message: one in SMTP, one per accepted
   * recipient (in RCPT order) in LMTP.
   */
  readonly replies: readonly Reply[];
  /** The extensions of the latest EHLO (null before EHLO, or after HELO). */
  readonly extensions: Extensions | null;
  /**
   * EHLO (RFC 5321 §4.1.1.1), or LHLO in LMTP. `s.ehlo()`; Python `s.ehlo()`; Tcl: the first step of sendmessage.
   * @throws SmtpError stage `ehlo` on any reply but 250.
   */
  ehlo(name?: string): Promise<Extensions>;
  /** HELO, for servers that do not speak ESMTP. @throws SmtpError stage `helo` on any reply but 250. */
  helo(name?: string): Promise<Reply>;
  /**
   * EHLO, and HELO when EHLO gets a 5xx (Tcllib's fallback; LMTP has no HELO). A 4xx, a 421 or a drop is thrown.
   * Python `s.ehlo_or_helo_if_needed()`.
   */
  ehloOrHelo(): Promise<void>;
  /** Was `name` in the EHLO reply? Keywords compare case-insensitively. Python `s.has_extn('size')`. */
  hasExtension(name: string): boolean;
  /** The keyword's parameters (`SIZE` → `'10485760'`), '' for none, null when not offered. Python `s.esmtp_features['size']`. */
  extensionParam(name: string): string | null;
  /** SASL mechanisms merged from every AUTH line, uppercased. */
  authMechanisms(): string[];
  /**
   * STARTTLS (RFC 3207), certificate and host name verified unless `tlsOptions`
   * say otherwise, then EHLO again. Python `s.starttls(context=ctx)`; Tcl: `-usetls 1`.
   * @throws SmtpError `ETLS` stage `starttls` with `replyCode` when the server refuses (the session stays usable);
   *   `ETLS` stage `tls` when the handshake or the certificate fails, or the server sent bytes before the
   *   handshake (the session is closed).
   */
  starttls(tlsOptions?: ConnectionOptions): Promise<void>;
  /**
   * AUTH (RFC 4954): the strongest mechanism both sides know first (XOAUTH2 with `oauth2`, CRAM-MD5,
   * LOGIN, PLAIN), the next one after a 5xx. Python `s.login(user, password)`; Tcl: `-username u -password p`.
   * Refused before anything is sent when the connection is neither TLS nor loopback, unless `insecureauth`.
   * @throws SmtpError `EAUTH` stage `auth` (all refused, none offered, or not safe); `ESMTP` stage `auth` on a 4xx.
   */
  login(user: string, password: string, opts?: LoginOptions): Promise<Reply>;
  /** `MAIL FROM:<from> params`; the reply is returned whatever its code. Python `s.mail(from, options)`. */
  mail(from: string, params?: string[]): Promise<Reply>;
  /** `RCPT TO:<to> params`; the reply is returned whatever its code. Python `s.rcpt(to, options)`. */
  rcpt(to: string, params?: string[]): Promise<Reply>;
  /**
   * DATA, the message (CRLF-normalized, dot-stuffed, ended with CRLF.CRLF), and the final reply.
   * In LMTP, one reply per accepted recipient: the first positive one is returned, all are in `replies`,
   * and the refusal is thrown only when every recipient refused. Python `s.data(msg)`.
   * @throws SmtpError stage `data` when DATA is not answered 354, stage `dot` when the message is refused,
   *   UncertainDeliveryError when no reply follows the end of data.
   */
  data(message: MessageSource): Promise<Reply>;
  /**
   * A whole transaction: EHLO if needed, MAIL (with SIZE, BODY=8BITMIME, SMTPUTF8 as fitting), RCPT for
   * each recipient, DATA (or BDAT with CHUNKING), the message; pipelined when the server offers PIPELINING.
   * Resolves to the refused recipients `[address, code, diagnostic]` when the message was accepted; each
   * entry carries the enhanced status code as the non-enumerable `enhanced` (see refused.ts). In LMTP a
   * recipient refused after the data is among them.
   * Python `s.sendmail(from, to, msg)`; Tcl: the transaction inside `smtp::sendmessage`.
   * @throws SmtpError `ESIZE` (too large, nothing sent), `ESMTP` stage `mail`/`data`/`dot`,
   *   `ERECIPIENTS` stage `rcpt` with `.rejected`, `ESOURCE` stage `body` (the message source failed;
   *   nothing delivered), UncertainDeliveryError (`EUNCERTAIN`: the end of data went out, no reply came),
   *   `EEXTENSION` / `ETLS` stage `mail` when `dsn.required`, `requiretls` or `binarymime` cannot be honoured (nothing sent).
   */
  sendmail(from: string, recipients: string | string[], message: MessageSource, opts?: SendmailOptions): Promise<Rejected[]>;
  /** VRFY: `[code, text]` whatever the code. Python `s.verify(address)`. */
  verify(address: string): Promise<[number, string]>;
  /** EXPN: `[code, text]` whatever the code. Python `s.expn(list)`. */
  expand(list: string): Promise<[number, string]>;
  /** NOOP. Python `s.noop()`. */
  noop(): Promise<Reply>;
  /** RSET: abandons the transaction. Python `s.rset()`. */
  rset(): Promise<Reply>;
  /** QUIT, a short wait for the 221, and close; never throws. Python `s.quit()`. */
  quit(): Promise<void>;
  /** Closes the connection at once, without QUIT. Python `s.close()`. */
  close(): void;
  /** `await using session = await smtp.connect(...)` QUITs at the end of the block, as {@link Session.quit}. Python `with smtplib.SMTP(...)`. */
  [ASYNC_DISPOSE](): Promise<void>;
}
