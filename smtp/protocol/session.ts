/**
 * The SMTP session: one connection as an explicit state machine, one method per
 * step of RFC 5321, the level Python's smtplib offers. Failover, Tcl options and
 * pooling live above it (sendmessage.ts); nothing here knows about them. The
 * reads and the replies are the channel's (channel.ts); a whole transaction is
 * planned (transaction.ts), then carried out (transfer.ts).
 *
 *   greeting → ready ⇄ (EHLO, STARTTLS, AUTH, RSET, NOOP, VRFY, EXPN)
 *   ready → mail → rcpt → data → ready;   any state → closed (QUIT, 421, drop, timeout)
 */
import type { ConnectionOptions } from 'node:tls';
import { ASYNC_DISPOSE } from '../../lib/dispose';
import { InvalidInputError, type Rejected, SmtpError } from '../../lib/errors';
import type { TclWords } from '../../lib/options';
import { isToken } from '../../mime';
import { needsSmtputf8 } from '../../mime/transmit';
import { DkimSigner } from '../dkim/sign';
import { chooseMechanisms, type Credentials, credentialsMayTravel, type Exchange, startExchange } from './auth';
import { afterAbort, throwIfAborted, whenAborted } from './abort';
import { Channel } from './channel';
import * as cmd from './command';
import { TIMEOUTS } from './command';
import { defaultClient, readSettings } from './connect-options';
import { Connection, Deadline } from './connection';
import { debugSink, Transcript } from './debug';
import { parseEhlo } from './extensions';
import { headerHasEightBit, isReadable, prepareMessage, type PreparedAhead, type PreparedMessage, signedMessage } from './message-source';
import { parseMailParameter, parseRcptParameter } from './parameters';
import { isPositive } from './reply';
import { eightBitGuard, planBody, planTransaction, readRequest } from './transaction';
import { sendBody, transfer } from './transfer';
import type { ConnectOptions, Extensions, LoginOptions, MessageChanges, MessageSource, Reply, SendmailOptions, Session } from './types';

/** How long `quit()` waits for the 221 before closing anyway. */
const QUIT_WAIT_SECS = 5;
/** Most 334 challenges answered in one AUTH exchange (Tcllib looped without limit). */
const MAX_AUTH_STEPS = 5;

/**
 * What a layer above the session (sendmessage, the pool) adds to a transaction,
 * kept out of the public {@link SendmailOptions}. @internal
 */
export interface SendmailHooks {
  /** The message prepared while the connection opened (smtp.sendmessage); used only for this very source. */
  ahead?: PreparedAhead;
  /**
   * Called once the end of data is written, when one final reply is to come (SMTP, not LMTP): the session
   * then lets the next transaction write its commands at once, so that they leave with the end of data, and
   * reads their replies after this one's final reply. smtp.pool uses it to pipeline messages on a session.
   */
  afterEndOfData?: () => void;
  /**
   * The caller ends the session if this transaction is refused (smtp.sendmessage's own connection): DATA is
   * pipelined even with `atleastone` false, and a partial refusal that meets a 354 closes the connection
   * (nothing is delivered without the end of data) instead of resetting it.
   */
  disposable?: boolean;
}

class SmtpSession extends Channel implements Session {
  greeting!: Reply;
  extensions: Extensions | null = null;
  private greeted = false;
  // Recipients accepted since MAIL, for LMTP's replies after data() (sendmail counts its own).
  private acceptedRcpts = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private quitting: Promise<void> | null = null;
  // Resolved when QUIT has been handed to the socket.
  private quitWritten: Promise<void> | null = null;

  constructor(conn: Connection, server: string, port: number, deadline: Deadline, private readonly client: string, private readonly insecureAuth: boolean, protocol: 'smtp' | 'lmtp' = 'smtp') {
    super(conn, server, port, deadline, protocol);
  }

  // ---- the public steps; each runs after the previous one has finished ----

  ehlo(name?: string): Promise<Extensions> {
    return this.exclusive(() => this.doEhlo(name));
  }

  helo(name?: string): Promise<Reply> {
    return this.exclusive(() => this.doHelo(name));
  }

  ehloOrHelo(): Promise<void> {
    return this.exclusive(() => this.doEhloOrHelo());
  }

  hasExtension(name: string): boolean {
    return this.extensions?.has(name) ?? false;
  }

  extensionParam(name: string): string | null {
    return this.extensions?.param(name) ?? null;
  }

  authMechanisms(): string[] {
    return [...(this.extensions?.authMechanisms ?? [])];
  }

  starttls(tlsOptions: ConnectionOptions = {}): Promise<void> {
    return this.exclusive(() => this.doStarttls(tlsOptions));
  }

  login(user: string, password: string, opts: LoginOptions = {}): Promise<Reply> {
    return this.exclusive(() => this.doLogin(user, password, opts));
  }

  mail(from: string, params?: string[]): Promise<Reply> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.mail(from, params?.map(parseMailParameter)));
      if (isPositive(reply)) {
        this.state = 'mail';
        this.acceptedRcpts = 0;
      }
      return reply;
    });
  }

  rcpt(to: string, params?: string[]): Promise<Reply> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.rcpt(to, params?.map(parseRcptParameter)));
      if (isPositive(reply)) {
        this.state = 'rcpt';
        this.acceptedRcpts++;
      }
      return reply;
    });
  }

  data(message: MessageSource): Promise<Reply> {
    return this.exclusive(async () => {
      const prepared = await this.prepare(message, { sevenBit: !this.hasExtension('8BITMIME'), asciiHeaders: !this.hasExtension('SMTPUTF8') }, 'data');
      // The rule sendmail applies: an 8-bit message to a server without 8BITMIME is refused before DATA, a stream watched.
      const guardSevenBit = eightBitGuard(this.extensions, prepared, this.server, 'data');
      const reply = await this.exchange(cmd.data());
      if (reply.code !== 354) throw this.refusal('data', reply, 'DATA refused');
      const lmtp = this.protocol === 'lmtp';
      const replies = await sendBody(this, prepared, lmtp ? Math.max(1, this.acceptedRcpts) : 1, guardSevenBit);
      const positive = replies.find((r) => isPositive(r));
      if (!positive) throw this.refusal('dot', replies[0], 'message refused');
      return lmtp ? positive : replies[0];
    });
  }

  sendmail(from: string, recipients: string | string[], message: MessageSource, opts: SendmailOptions = {}): Promise<Rejected[]> {
    return this.sendmailWith(from, recipients, message, opts, NO_HOOKS);
  }

  /** {@link sendmail} with the hooks of the layers above. @internal */
  sendmailWith(from: string, recipients: string | string[], message: MessageSource, opts: SendmailOptions, hooks: SendmailHooks): Promise<Rejected[]> {
    if (hooks.afterEndOfData === undefined) return this.exclusive(() => this.doSendmail(from, recipients, message, opts, hooks));
    return this.releasable((release) => this.doSendmail(from, recipients, message, opts, hooks, release));
  }

  verify(address: string): Promise<[number, string]> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.vrfy(address));
      return [reply.code, reply.lines.join('\n')];
    });
  }

  expand(list: string): Promise<[number, string]> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.expn(list));
      return [reply.code, reply.lines.join('\n')];
    });
  }

  noop(): Promise<Reply> {
    return this.exclusive(() => this.exchange(cmd.noop()));
  }

  rset(): Promise<Reply> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.rset());
      if (isPositive(reply) && this.greeted) this.state = 'ready';
      return reply;
    });
  }

  quit(): Promise<void> {
    // A second QUIT (sendmessage's, after one that went with the end of data) waits for the first.
    if (this.quitting) return this.quitting;
    let handed!: () => void;
    this.quitWritten = new Promise<void>((resolve) => (handed = resolve));
    this.quitting = this.exclusive(async () => {
      if (this.state === 'closed') return;
      this.state = 'closed';
      try {
        this.conn.send([cmd.quit()]);
        handed();
        await this.conn.readReply('quit', Math.min(QUIT_WAIT_SECS * 1000, this.deadline.wait(QUIT_WAIT_SECS)));
      } catch {
        // QUIT is a courtesy: the message, if any, was settled before it.
      }
      await this.conn.end(1000);
    }).catch(() => undefined);
    return this.quitting;
  }

  /** Starts QUIT (if not started) and resolves once it is on the socket, or once the session ended without it. @internal */
  quitStarted(): Promise<void> {
    const finished = this.quit();
    return Promise.race([this.quitWritten ?? finished, finished]);
  }

  /** `await using session = await smtp.connect(...)`: QUIT when the block ends. */
  [ASYNC_DISPOSE](): Promise<void> {
    return this.quit();
  }

  // ---- internals ----

  /** Runs `step` after every earlier step, so concurrent calls cannot interleave on the wire. */
  private exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.openFor(step));
    this.queue = run.catch(this.afterFailure);
    return run;
  }

  /**
   * As {@link exclusive}, but the step may let the next one begin before it
   * ends by calling `release` (a transaction whose end of data is written,
   * waiting for its final reply, which is read before any reply of the next).
   */
  private releasable<T>(step: (release: () => void) => Promise<T>): Promise<T> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const run = this.queue.then(() => this.openFor(() => step(release)));
    this.queue = Promise.race([run.then(NOTHING, this.afterFailure), released]);
    return run;
  }

  /** Runs a step's work on a session still open; a closed one refuses it. */
  private openFor<T>(work: () => Promise<T>): Promise<T> {
    if (this.state === 'closed') throw this.conn.error('ECONNECTION', 'connect', `the session with ${this.server}:${this.port} is closed`);
    return work();
  }

  // Whatever failed, a connection that is gone leaves the session closed (a refused write closes it too).
  private readonly afterFailure = (): void => {
    if (this.conn.closed) this.state = 'closed';
  };

  /** The first reply on the connection: the greeting. */
  async readGreeting(): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.read('greeting', TIMEOUTS.greeting);
    } catch (error) {
      // A silent port (an HTTP server waits for its request) or one that speaks another protocol: say which.
      if (error instanceof SmtpError && (error.code === 'ETIMEOUT' || error.code === 'EPROTOCOL')) {
        error.message = `no SMTP greeting from ${this.server}:${this.port} (${error.message}) — is this an SMTP port?`;
      }
      throw error;
    }
    this.greeting = reply;
    if (reply.code !== 220) {
      this.close();
      throw this.refusal('greeting', reply, 'server greeting');
    }
    this.state = 'ready';
  }

  private async doEhlo(name?: string): Promise<Extensions> {
    const lmtp = this.protocol === 'lmtp';
    const reply = await this.exchange(lmtp ? cmd.lhlo(name ?? this.client) : cmd.ehlo(name ?? this.client));
    if (reply.code !== 250) throw this.refusal('ehlo', reply, `${lmtp ? 'LHLO' : 'EHLO'} refused`);
    this.extensions = parseEhlo(reply);
    this.greeted = true;
    this.state = 'ready';
    return this.extensions;
  }

  private async doHelo(name?: string): Promise<Reply> {
    const reply = await this.exchange(cmd.helo(name ?? this.client));
    if (reply.code !== 250) throw this.refusal('helo', reply, 'HELO refused');
    this.extensions = null;
    this.greeted = true;
    this.state = 'ready';
    return reply;
  }

  /** EHLO; on a 5xx (the server does not know it) HELO. A 4xx, 421 or a drop is thrown. */
  private async doEhloOrHelo(): Promise<void> {
    try {
      await this.doEhlo();
    } catch (error) {
      // RFC 2033 has no HELO: an LMTP server that refuses LHLO is refused.
      if (!(error instanceof SmtpError) || error.replyCode === null || error.replyCode < 500 || this.protocol === 'lmtp') throw error;
      await this.doHelo();
    }
  }

  private async greetIfNeeded(): Promise<void> {
    if (!this.greeted) await this.doEhloOrHelo();
  }

  private async doStarttls(tlsOptions: ConnectionOptions): Promise<void> {
    if (this.conn.secure) throw this.conn.error('ETLS', 'starttls', 'the connection is already TLS');
    await this.greetIfNeeded();
    const reply = await this.exchange(cmd.starttls());
    if (reply.code !== 220) throw this.refusal('starttls', reply, 'STARTTLS refused', 'ETLS');
    try {
      await this.conn.startTls(tlsOptions, this.deadline.wait(TIMEOUTS.other));
    } catch (error) {
      this.state = 'closed';
      throw error;
    }
    // RFC 3207 §4.2: forget what the server said in clear, and ask again.
    this.extensions = null;
    this.greeted = false;
    await this.doEhloOrHelo();
  }

  private async doLogin(user: string, password: string, opts: LoginOptions): Promise<Reply> {
    if (typeof user !== 'string' || typeof password !== 'string') throw new InvalidInputError('login', 'user and password must be strings');
    // A Unix socket is as local as loopback.
    if (!credentialsMayTravel(this.conn.secure, this.conn.remoteAddress, this.insecureAuth || this.conn.unixSocket, this.server)) {
      throw this.conn.error(
        'EAUTH',
        'auth',
        `refusing to send credentials in clear to ${this.server}: use STARTTLS or implicit TLS, or set insecureauth`,
      );
    }
    await this.greetIfNeeded();
    const offered = this.extensions?.authMechanisms ?? [];
    if (offered.length === 0) {
      throw this.conn.error(
        'EAUTH',
        'auth',
        `${this.server} offers no AUTH mechanism: send without login() (smtp.sendmessage does so by itself here), or call starttls() first if the server offers AUTH only over TLS`,
      );
    }
    const credentials: Credentials = { user, password, oauth2: opts.oauth2 };
    const mechanisms = chooseMechanisms(offered, credentials, opts.mechanism);
    if (mechanisms.length === 0) {
      throw this.conn.error(
        'EAUTH',
        'auth',
        `no usable AUTH mechanism: ${this.server} offers ${offered.join(' ')} and tclmail speaks ${opts.mechanism === undefined ? 'CRAM-MD5, LOGIN, PLAIN (and XOAUTH2 with oauth2)' : `only ${opts.mechanism.toUpperCase()} as asked`}: ${opts.mechanism === undefined ? 'ask the server\'s operator for one of those, or give oauth2 for XOAUTH2' : 'drop the mechanism option, or ask for one the server offers'}`,
      );
    }
    let last: Reply | null = null;
    for (const mechanism of mechanisms) {
      const reply = await this.authenticate(startExchange(mechanism, credentials));
      if (isPositive(reply)) return reply;
      // A 4xx is the server's trouble, not the credentials': the caller may try later or elsewhere.
      if (reply.code < 500) throw this.refusal('auth', reply, `AUTH ${mechanism} failed for now`);
      last = reply;
    }
    throw this.refusal('auth', last as Reply, 'authentication failed', 'EAUTH');
  }

  /** One SASL exchange: AUTH, then an answer per 334, bounded. Returns the final reply. */
  private async authenticate(exchange: Exchange): Promise<Reply> {
    let reply = await this.exchange(cmd.auth(exchange.mechanism, exchange.initial));
    let cancelled = false;
    for (let step = 0; reply.code === 334; step++) {
      if (cancelled) {
        // RFC 4954 §4: a cancelled exchange ends with a 501; a server that challenges on would loop us forever.
        this.close();
        throw this.conn.error('EPROTOCOL', 'auth', `server broke the protocol: it went on challenging after AUTH ${exchange.mechanism} was cancelled`);
      }
      const challenge = Buffer.from(reply.lines[0]?.trim() ?? '', 'base64');
      const answer = step < MAX_AUTH_STEPS ? exchange.respond(challenge, step) : null;
      // RFC 4954 §4: '*' cancels an exchange that has gone on too long or makes no sense.
      cancelled = answer === null;
      reply = await this.exchange(cmd.authResponse(answer ?? '*'));
    }
    return reply;
  }

  /**
   * The message as it will be sent. A token whose header needs SMTPUTF8 (a
   * non-ASCII local part) and a server without it: as for the envelope, this
   * server's shortcoming (`EEXTENSION`), so another server may be tried.
   */
  private async prepare(message: MessageSource, options: { sevenBit: boolean; asciiHeaders: boolean; changes?: MessageChanges }, stage: 'mail' | 'data'): Promise<PreparedMessage> {
    try {
      return await prepareMessage(message, options);
    } catch (error) {
      if (needsSmtputf8(error)) throw this.conn.error('EEXTENSION', stage, `${(error as Error).message}; ${this.server} does not offer it: the message is not sent`, error);
      throw error;
    }
  }

  /**
   * One transaction: the request is checked before anything is sent, planned
   * against the server's EHLO answers and the prepared message, then carried out.
   */
  private async doSendmail(
    from: string,
    recipients: string | string[],
    message: MessageSource,
    opts: SendmailOptions,
    hooks: SendmailHooks,
    release?: () => void,
  ): Promise<Rejected[]> {
    const request = readRequest(from, recipients, opts, this);
    const signer = opts.dkim === undefined ? null : opts.dkim instanceof DkimSigner ? opts.dkim : new DkimSigner(opts.dkim, 'smtp.sendmail');
    const token = isToken(message);
    if (!(typeof message === 'string' || Buffer.isBuffer(message) || token || isReadable(message))) {
      throw new InvalidInputError('message', 'expected a string, a Buffer, a readable stream or a mime token');
    }
    if (signer && isReadable(message)) {
      throw new InvalidInputError('message', 'DKIM signing reads the message twice (to sign it, then to send it): give a string, a Buffer or a mime token, not a stream');
    }
    await this.greetIfNeeded();
    const ext = this.extensions;
    try {
      // What this message needs of the server is checked before the message is read: a server that cannot honour it gets nothing.
      const body = planBody(ext, request, token);
      // Without SMTPUTF8 a token's header goes out 7-bit (A-labels); a message prepared ahead without that is used only if it is all ASCII.
      const asciiHeaders = !ext?.has('SMTPUTF8');
      const ahead = !body.sevenBit && hooks.ahead?.source === message ? await hooks.ahead.prepared : null;
      const early = ahead !== null && (!asciiHeaders || ahead.eightBit === false) ? ahead : null;
      let prepared = early ?? (await this.prepare(message, { sevenBit: body.sevenBit, asciiHeaders, changes: opts.changes }, 'mail'));
      if (body.binary && !token && !isReadable(message)) {
        // Sent untouched, so the size is the octets as they are.
        prepared = { ...prepared, size: Buffer.byteLength(message) };
      }
      if (signer) prepared = await signedMessage(prepared, signer);
      const utf8Header = !token && !isReadable(message) && headerHasEightBit(message);
      const tx = planTransaction(ext, { size: prepared.size, eightBit: prepared.eightBit, eightBitOffset: prepared.eightBitOffset, utf8Header, token }, request);
      const after = hooks.afterEndOfData;
      const handoff = release !== undefined && after !== undefined ? (): void => {
        release();
        after();
      } : undefined;
      return await transfer(this, tx, prepared, {
        atleastone: opts.atleastone ?? true,
        pipelining: ext?.has('PIPELINING') ?? false,
        disposable: hooks.disposable === true,
        beforeEndOfData: opts.beforeEndOfData,
        handoff,
      });
    } catch (error) {
      if (error instanceof SmtpError) {
        error.server ??= this.server;
        error.port ??= this.port;
      }
      throw error;
    }
  }
}

const NOTHING = (): void => undefined;
const NO_HOOKS: SendmailHooks = Object.freeze({});

/**
 * Starts QUIT and resolves once it has been handed to the socket, leaving its
 * reply and the close to finish alone: quit() never rejects, and closes the
 * socket on its own within its wait for the 221 plus a second's grace. @internal
 */
export function quitStarted(session: Session): Promise<void> {
  return session instanceof SmtpSession ? session.quitStarted() : session.quit();
}

/** `session.sendmail` with the hooks of sendmessage and the pool, for a session made by {@link connect}. @internal */
export function sendmailWith(session: Session, from: string, recipients: string | string[], message: MessageSource, opts: SendmailOptions, hooks: SendmailHooks): Promise<Rejected[]> {
  if (session instanceof SmtpSession) return session.sendmailWith(from, recipients, message, opts, hooks);
  return session.sendmail(from, recipients, message, opts);
}

/**
 * Opens an SMTP session: connects (implicit TLS when `tls` is set), reads the
 * greeting, and resolves once it is 220. Call `ehlo()` (or let `sendmail` do it).
 *
 * ```ts
 * const s = await smtp.connect({ server: 'mail.example.org', port: 587 });
 * await s.starttls(); await s.login('me', 'secret');
 * await s.sendmail('me@example.org', ['you@example.net'], message);
 * await s.quit();
 * ```
 * Tcl has no session object: `smtp::sendmessage` opens and closes its own.
 * Python: `s = smtplib.SMTP('mail.example.org', 587)`.
 *
 * @throws OptionError for a bad option, InvalidInputError for a bad `client`, before any I/O.
 * @throws SmtpError `ECONNECTION`/`ETIMEOUT` stage `connect`; `ETLS` stage `tls` (implicit TLS);
 *   `ESMTP` stage `greeting` when the greeting is not 220 (the connection is closed).
 */
export async function connect(options?: ConnectOptions): Promise<Session>;
export async function connect(...flat: TclWords): Promise<Session>;
export async function connect(...args: unknown[]): Promise<Session> {
  const settings = readSettings(args);
  const signal = settings.signal;
  throwIfAborted(signal);
  const deadline = new Deadline(settings.maxsecs);
  const transcript = new Transcript(debugSink(settings.debug));
  const conn = await Connection.open({
    host: settings.server,
    port: settings.port,
    tls: settings.tls,
    timeoutMs: deadline.wait(settings.connectTimeoutSecs),
    transcript,
    lookup: settings.lookup,
    signal,
  });
  const client = settings.client ?? defaultClient(conn, settings.server, conn.localAddress);
  const session = new SmtpSession(conn, settings.server, settings.port, deadline, client, settings.insecureauth, settings.protocol);
  const stop = whenAborted(signal, () => session.close());
  try {
    await session.readGreeting();
  } catch (error) {
    throw afterAbort(signal, error);
  } finally {
    stop();
  }
  return session;
}

export type { Session } from './types';
