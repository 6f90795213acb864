/**
 * The SMTP session: one connection as an explicit state machine, one method per
 * step of RFC 5321, the level Python's smtplib offers. Failover, Tcl options and
 * pooling live above it (sendmessage.ts); nothing here knows about them.
 *
 *   greeting → ready ⇄ (EHLO, STARTTLS, AUTH, RSET, NOOP, VRFY, EXPN)
 *   ready → mail → rcpt → data → ready;   any state → closed (QUIT, 421, drop, timeout)
 */
import type { LookupFunction } from 'node:net';
import * as os from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { InvalidInputError, OptionError, Rejected, SmtpError, Stage, UncertainDeliveryError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { ASYNC_DISPOSE } from '../../lib/dispose';
import { OptionSpecs, parseOptions } from '../../lib/options';
import { DataCodec, firstEightBitOffset } from '../../lib/stream';
import { refuseLineBreaks } from '../../lib/text';
import { chooseMechanisms, Credentials, credentialsMayTravel, Exchange, startExchange } from './auth';
import * as cmd from './command';
import { Command, TIMEOUTS } from './command';
import { Connection, Deadline, isLoopbackAddress, isSocketPath } from './connection';
import { debugSink, Transcript } from './debug';
import { parseEhlo } from './extensions';
import { describeReply, isPositive } from './reply';
import { DkimSigner } from '../dkim/sign';
import { planDsn } from './dsn';
import { refusedEntry } from './refused';
import { headerHasEightBit, isReadable, prepareMessage, PreparedMessage, signedMessage } from './message-source';
import { needsSmtputf8 } from '../../mime/transmit';
import { isToken } from '../../mime';
import type { ConnectOptions, Extensions, LoginOptions, MessageSource, Reply, SendmailOptions, Session, SessionState } from './types';

/** The largest BDAT chunk: a bound on what is held before it goes out. */
const BDAT_CHUNK = 256 * 1024;
/** How long `quit()` waits for the 221 before closing anyway. */
const QUIT_WAIT_SECS = 5;
/** Most 334 challenges answered in one AUTH exchange (Tcllib looped without limit). */
const MAX_AUTH_STEPS = 5;

interface SessionSettings {
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

class SmtpSession implements Session {
  state: SessionState = 'greeting';
  greeting!: Reply;
  extensions: Extensions | null = null;
  replies: Reply[] = [];
  private greeted = false;
  // Recipients accepted since MAIL, for LMTP's replies after data() (sendmail counts its own).
  private acceptedRcpts = 0;
  private queue: Promise<unknown> = Promise.resolve();
  // Transactions begun by sendmail: a final reply read after the next one began leaves the state alone.
  private transactions = 0;
  private quitting: Promise<void> | null = null;

  constructor(
    private readonly conn: Connection,
    readonly server: string,
    readonly port: number,
    private readonly deadline: Deadline,
    private readonly client: string,
    private readonly insecureAuth: boolean,
    readonly protocol: 'smtp' | 'lmtp' = 'smtp',
  ) {}

  get secure(): boolean {
    return this.conn.secure;
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
      const reply = await this.exchange(cmd.mail(from, params));
      if (isPositive(reply)) {
        this.state = 'mail';
        this.acceptedRcpts = 0;
      }
      return reply;
    });
  }

  rcpt(to: string, params?: string[]): Promise<Reply> {
    return this.exclusive(async () => {
      const reply = await this.exchange(cmd.rcpt(to, params));
      if (isPositive(reply)) {
        this.state = 'rcpt';
        this.acceptedRcpts++;
      }
      return reply;
    });
  }

  data(message: MessageSource): Promise<Reply> {
    return this.exclusive(async () => {
      const prepared = await prepareMessage(message, { sevenBit: !this.hasExtension('8BITMIME'), asciiHeaders: !this.hasExtension('SMTPUTF8') });
      const reply = await this.exchange(cmd.data());
      if (reply.code !== 354) throw this.refusal('data', reply, 'DATA refused');
      const lmtp = this.protocol === 'lmtp';
      const replies = await this.sendBody(prepared, lmtp ? Math.max(1, this.acceptedRcpts) : 1);
      const positive = replies.find((r) => isPositive(r));
      if (!positive) throw this.refusal('dot', replies[0], 'message refused');
      return lmtp ? positive : replies[0];
    });
  }

  sendmail(from: string, recipients: string | string[], message: MessageSource, opts: SendmailOptions = {}): Promise<Rejected[]> {
    if (opts.afterEndOfData === undefined) return this.exclusive(() => this.doSendmail(from, recipients, message, opts));
    return this.releasable((release) => this.doSendmail(from, recipients, message, opts, release));
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
    this.quitting = this.exclusive(async () => {
      if (this.state === 'closed') return;
      this.state = 'closed';
      try {
        this.conn.send([cmd.quit()]);
        await this.conn.readReply('quit', Math.min(QUIT_WAIT_SECS * 1000, this.deadline.wait(QUIT_WAIT_SECS)));
      } catch {
        // QUIT is a courtesy: the message, if any, was settled before it.
      }
      await this.conn.end(1000);
    }).catch(() => undefined);
    return this.quitting;
  }

  close(): void {
    this.state = 'closed';
    this.conn.destroy();
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
    const reply = await this.read('greeting', TIMEOUTS.greeting);
    this.greeting = reply;
    if (reply.code !== 220) {
      this.close();
      throw this.refusal('greeting', reply, 'server greeting');
    }
    this.state = 'ready';
  }

  /** Sends one command and reads its reply. */
  private async exchange(command: Command): Promise<Reply> {
    this.conn.send([command]);
    return this.read(command.stage, command.timeoutSecs);
  }

  /**
   * Reads one reply within the step's RFC 5321 limit and the overall deadline.
   * A timeout, a drop or garbage closes the session; so does a 421, which is
   * thrown (RFC 5321 §3.8: the server is closing the channel).
   */
  private async read(stage: Stage, limitSecs: number, deferFlush = false): Promise<Reply> {
    const bounded = this.deadline.bounds(limitSecs);
    let reply: Reply;
    try {
      reply = await this.conn.readReply(stage, this.deadline.wait(limitSecs), deferFlush);
    } catch (error) {
      throw this.readFailed(error, bounded);
    }
    if (reply.code === 421) throw this.closing(stage, reply);
    return reply;
  }

  /** The replies to `count` pipelined commands of one kind, read as {@link read} reads one. */
  private async readMany(stage: Stage, limitSecs: number, count: number): Promise<Reply[]> {
    if (count === 1) return [await this.read(stage, limitSecs)];
    const bounded = this.deadline.bounds(limitSecs);
    let replies: Reply[];
    try {
      replies = await this.conn.readReplies(stage, this.deadline.wait(limitSecs), count, this.deadline.end);
    } catch (error) {
      throw this.readFailed(error, bounded);
    }
    // A 421 ends the list: the server is closing.
    const last = replies[replies.length - 1];
    if (last.code === 421) throw this.closing(stage, last);
    return replies;
  }

  /** A read that failed has closed the connection; a timeout that was the overall deadline's says so. */
  private readFailed(error: unknown, bounded: boolean): unknown {
    this.state = 'closed';
    if (error instanceof SmtpError && error.code === 'ETIMEOUT' && bounded) {
      error.message += ' (the overall maxsecs deadline)';
    }
    return error;
  }

  /** RFC 5321 §3.8: a 421 is the server closing the channel; the session closes too. */
  private closing(stage: Stage, reply: Reply): SmtpError {
    this.close();
    return this.refusal(stage, reply, 'server is closing the connection');
  }

  /** A typed error for a reply the step cannot go on with. */
  private refusal(stage: Stage, reply: Reply, what: string, code: 'ESMTP' | 'ETLS' | 'EAUTH' = 'ESMTP'): SmtpError {
    const error = this.conn.error(code, stage, `${what}: ${describeReply(reply)}`);
    error.replyCode = reply.code;
    error.enhanced = reply.enhanced;
    error.lines = reply.lines;
    return error;
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
    if (offered.length === 0) throw this.conn.error('EAUTH', 'auth', `${this.server} offers no AUTH mechanism`);
    const credentials: Credentials = { user, password, oauth2: opts.oauth2 };
    const mechanisms = chooseMechanisms(offered, credentials, opts.mechanism);
    if (mechanisms.length === 0) {
      throw this.conn.error('EAUTH', 'auth', `no usable AUTH mechanism: the server offers ${offered.join(' ')}`);
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

  private async doSendmail(
    from: string,
    recipients: string | string[],
    message: MessageSource,
    opts: SendmailOptions,
    release?: () => void,
  ): Promise<Rejected[]> {
    const atleastone = opts.atleastone ?? true;
    const list = typeof recipients === 'string' ? [recipients] : [...recipients];
    if (list.length === 0) throw new InvalidInputError('recipients', 'no recipients');
    const dsn = planDsn(opts.dsn, 'smtp.sendmail');
    const signer = opts.dkim === undefined ? null : opts.dkim instanceof DkimSigner ? opts.dkim : new DkimSigner(opts.dkim, 'smtp.sendmail');
    // Bad input fails here, before a byte is written (EHLO included); the commands are built again below with the server's answers.
    cmd.checkMailbox('sender', from);
    for (const to of list) cmd.rcpt(to, [...(opts.rcptParams ?? []), ...dsn.rcptParams(to)]);
    cmd.mail('', [...(opts.mailParams ?? []), ...dsn.mailParams]);
    if (!(typeof message === 'string' || Buffer.isBuffer(message) || isReadable(message) || isToken(message))) {
      throw new InvalidInputError('message', 'expected a string, a Buffer, a readable stream or a mime token');
    }
    if (signer && isReadable(message)) {
      throw new InvalidInputError('message', 'DKIM signing reads the message twice (to sign it, then to send it): give a string, a Buffer or a mime token, not a stream');
    }
    await this.greetIfNeeded();
    const ext = this.extensions;
    const offers = (keyword: string): boolean => ext?.has(keyword) ?? false;

    // What this message needs of the server is checked before MAIL: a server that cannot honour it gets nothing.
    if (opts.requiretls) {
      if (!this.conn.secure) throw this.conn.error('ETLS', 'mail', `requiretls: the connection to ${this.server} is not TLS, so the message is not sent in clear text`);
      if (!offers('REQUIRETLS')) throw this.conn.error('EEXTENSION', 'mail', `requiretls: ${this.server} does not offer REQUIRETLS (RFC 8689), so the message is not sent`);
    }
    if (dsn.required && !offers('DSN')) {
      throw this.conn.error('EEXTENSION', 'mail', `dsnrequired: ${this.server} does not offer DSN (RFC 3461), so the message is not sent`);
    }
    const chunking = (opts.chunking ?? true) && offers('CHUNKING');
    const binary = opts.binarymime === true && chunking && offers('BINARYMIME');
    if (opts.binarymime === true && !binary && !isToken(message)) {
      throw this.conn.error('EEXTENSION', 'mail', `binarymime: ${this.server} does not offer CHUNKING and BINARYMIME (RFC 3030), and DATA would change a binary message`);
    }

    const utf8 = [from, ...list].some((a) => /[^\x00-\x7f]/.test(a));
    const sender = asciiAddress(from, ext);
    const targets = list.map((to) => asciiAddress(to, ext));
    // A binary token without BINARYMIME is re-encoded to 7 bits: DATA would rewrite its line ends.
    const sevenBit = binary ? false : opts.binarymime === true || !offers('8BITMIME');
    // Without SMTPUTF8 a token's header goes out 7-bit (A-labels); a message prepared ahead without that is used only if it is all ASCII.
    const asciiHeaders = !offers('SMTPUTF8');
    const ahead = !sevenBit && opts.ahead?.source === message ? await opts.ahead.prepared : null;
    const early = ahead !== null && (!asciiHeaders || ahead.eightBit === false) ? ahead : null;
    let prepared: PreparedMessage;
    try {
      prepared = early ?? (await prepareMessage(message, { sevenBit, asciiHeaders, changes: opts.changes }));
    } catch (error) {
      // As for the envelope (sendmessage's check): this server's shortcoming, so another server may be tried.
      if (needsSmtputf8(error)) throw this.conn.error('EEXTENSION', 'mail', `${(error as Error).message}; ${this.server} does not offer it: the message is not sent`, error);
      throw error;
    }
    if (binary && (typeof message === 'string' || Buffer.isBuffer(message))) {
      // Sent untouched, so the size is the octets as they are.
      prepared = { ...prepared, size: Buffer.byteLength(message) };
    }
    if (signer) prepared = await signedMessage(prepared, signer);
    const mailParams = [...(opts.mailParams ?? [])];
    const has = (keyword: string): boolean => mailParams.some((p) => p.toUpperCase().split('=')[0] === keyword);

    if (prepared.size !== null && ext?.size) {
      if (prepared.size > ext.size) {
        throw this.conn.error('ESIZE', 'mail', `message of ${prepared.size} octets is larger than the ${ext.size} octets ${this.server} accepts`);
      }
    }
    if (prepared.size !== null && offers('SIZE') && !has('SIZE')) mailParams.push(`SIZE=${prepared.size}`);
    if (binary) {
      if (!has('BODY')) mailParams.push('BODY=BINARYMIME');
    } else if (prepared.eightBit !== false && !has('BODY')) {
      if (offers('8BITMIME')) mailParams.push('BODY=8BITMIME');
      else if (prepared.eightBit === true) {
        throw new InvalidInputError(
          'message',
          `8-bit byte at offset ${prepared.eightBitOffset ?? '?'} but ${this.server} does not offer 8BITMIME: encode the body (a mime token is re-encoded automatically)`,
        );
      }
    }
    const guardSevenBit = !binary && prepared.eightBit === null && !offers('8BITMIME');
    // RFC 6531 §3.4: SMTPUTF8 when an address or the header holds UTF-8.
    const utf8Header = (typeof message === 'string' || Buffer.isBuffer(message)) && headerHasEightBit(message);
    if ((utf8 || utf8Header) && offers('SMTPUTF8') && !has('SMTPUTF8')) mailParams.push('SMTPUTF8');
    if (opts.requiretls && !has('REQUIRETLS')) mailParams.push('REQUIRETLS');
    // Without DSN offered the requests are left out (dsnrequired refused such a server above).
    const withDsn = dsn.requested && offers('DSN');
    if (withDsn) mailParams.push(...dsn.mailParams);
    const mailCommand = cmd.mail(sender, mailParams);
    const rcptCommands = targets.map((to, i) => cmd.rcpt(to, [...(opts.rcptParams ?? []), ...(withDsn ? dsn.rcptParams(list[i]) : [])]));
    const dataCommand = cmd.data();

    const pipelined = offers('PIPELINING');
    this.transactions++;
    let mailReply: Reply;
    const rcptReplies: Reply[] = [];
    let dataReply: Reply | null = null;
    // DATA goes with the RCPTs when a refusal cannot leave a message begun that must not go: one acceptance is
    // enough (atleastone); there is one recipient (its refusal leaves none, and RFC 2920 §3.1's lone dot ends a
    // DATA taken anyway); or the connection may simply be dropped (disposable). With BDAT there is no DATA to
    // pipeline: the first chunk follows the replies.
    const pipelineData = (atleastone || list.length === 1 || opts.disposable === true) && !chunking;
    if (pipelined) {
      // RFC 2920: MAIL, every RCPT and (when one acceptance is enough) DATA in one write; replies in order.
      const batch = pipelineData ? [mailCommand, ...rcptCommands, dataCommand] : [mailCommand, ...rcptCommands];
      this.conn.send(batch);
      mailReply = await this.read('mail', TIMEOUTS.mail);
      rcptReplies.push(...(await this.readMany('rcpt', TIMEOUTS.rcpt, rcptCommands.length)));
      if (pipelineData) dataReply = await this.read('data', TIMEOUTS.data);
    } else {
      mailReply = await this.exchange(mailCommand);
      if (isPositive(mailReply)) {
        for (const command of rcptCommands) rcptReplies.push(await this.exchange(command));
      }
    }

    if (!isPositive(mailReply)) {
      if (dataReply?.code === 354) {
        // The server took DATA after refusing the sender: a lone '.' could deliver something. Drop the connection.
        this.close();
      } else await this.abandon();
      throw this.refusal('mail', mailReply, 'MAIL FROM refused');
    }
    this.state = 'mail';
    const rejected: Rejected[] = [];
    const accepted: string[] = [];
    rcptReplies.forEach((reply, i) => {
      if (isPositive(reply)) accepted.push(list[i]);
      else rejected.push(refusedEntry(list[i], reply.code, reply.text, reply.enhanced));
    });
    if (accepted.length > 0) this.state = 'rcpt';

    if (accepted.length === 0 || (rejected.length > 0 && !atleastone)) {
      if (dataReply?.code === 354 && accepted.length > 0) {
        // Some recipients were accepted and the message must not reach them alone: a lone dot would deliver an
        // empty message to them, so the connection is dropped instead; without its end of data nothing is delivered.
        this.close();
      } else if (dataReply?.code === 354) {
        // RFC 2920 §3.1: DATA was taken with no valid recipient; end it with a lone dot and ignore the reply.
        await this.conn.write(Buffer.from('.\r\n'), 'data', this.deadline.wait(TIMEOUTS.block));
        await this.read('dot', TIMEOUTS.dot);
        this.state = 'ready';
      }
      await this.abandon();
      const error = this.conn.error(
        'ERECIPIENTS',
        'rcpt',
        accepted.length === 0 ? 'no recipient was accepted' : `${rejected.length} recipient(s) refused and atleastone is false`,
      );
      error.rejected = rejected;
      const first = rcptReplies.find((r) => !isPositive(r));
      if (first) {
        error.replyCode = first.code;
        error.enhanced = first.enhanced;
        error.lines = first.lines;
      }
      throw error;
    }

    // LMTP answers the end of data once per accepted recipient (RFC 2033 §4.2).
    const count = this.protocol === 'lmtp' ? accepted.length : 1;
    // With one final reply to come, the next transaction (or QUIT) may begin once the end of data is written:
    // only with PIPELINING, which lets the end of data and the commands after it go without waiting (RFC 2920).
    const after = opts.afterEndOfData;
    const handoff = release !== undefined && after !== undefined && count === 1 && pipelined ? (): void => {
      release();
      after();
    } : undefined;
    let replies: Reply[];
    if (chunking) {
      replies = await this.sendChunks(prepared, count, binary, guardSevenBit, opts.beforeEndOfData, handoff);
    } else {
      if (!dataReply) dataReply = await this.exchange(dataCommand);
      if (dataReply.code !== 354) {
        await this.abandon();
        const error = this.refusal('data', dataReply, 'DATA refused');
        error.rejected = rejected;
        throw error;
      }
      replies = await this.sendBody(prepared, count, guardSevenBit, opts.beforeEndOfData, handoff);
    }
    if (this.protocol === 'smtp') {
      if (!isPositive(replies[0])) throw this.refusal('dot', replies[0], 'message refused');
      return rejected;
    }
    replies.forEach((reply, i) => {
      if (!isPositive(reply)) rejected.push(refusedEntry(accepted[i], reply.code, reply.text, reply.enhanced));
    });
    const refusedAll = replies.find((reply) => isPositive(reply)) === undefined;
    if (refusedAll) {
      const error = this.refusal('dot', replies[0], 'message refused for every recipient');
      error.rejected = rejected;
      throw error;
    }
    return rejected;
  }

  /** Reads the message source, chunk by chunk, into `each`; a failure closes the connection before any end of data. */
  private async stream(
    prepared: PreparedMessage,
    guardSevenBit: boolean,
    each: (bytes: Buffer) => Promise<void>,
    beforeEndOfData?: () => void | Promise<void>,
  ): Promise<void> {
    let offset = 0;
    const iterable = prepared.open();
    const source = iterable[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.nextChunk(source);
        if (next.done) break;
        const chunk = next.value;
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        if (guardSevenBit) {
          const at = firstEightBitOffset(bytes);
          if (at >= 0) {
            throw this.conn.error('EEXTENSION', 'body', `8-bit byte at offset ${offset + at} but ${this.server} does not offer 8BITMIME (nothing was delivered)`);
          }
        }
        offset += bytes.length;
        await each(bytes);
      }
      // The caller's last word before the message can be delivered (a bulk journal's write-ahead line).
      if (beforeEndOfData) await beforeEndOfData();
    } catch (error) {
      // Never write the end of data after a failure: a truncated message must not be delivered (SECURITY.md A8).
      this.close();
      // Lets a file or stream source release what it holds; a source that hangs is not waited for (a stream's
      // iterator would only end once its pending read does, so the stream itself is destroyed).
      if (isReadable(iterable)) iterable.destroy();
      else source.return?.().catch(() => undefined);
      if (error instanceof SmtpError) throw error;
      throw this.conn.error('ESOURCE', 'body', `reading the message failed: ${(error as Error)?.message ?? String(error)}`, error);
    }
  }

  /**
   * The source's next chunk, within the data-block limit and the overall
   * deadline: a source that stops giving bytes must not hold the send (and the
   * connection) forever.
   */
  private nextChunk<T>(source: AsyncIterator<T>): Promise<IteratorResult<T>> {
    const ms = this.deadline.wait(TIMEOUTS.block);
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.conn.error('ETIMEOUT', 'body', `the message source gave no bytes for ${ms} ms; the end of data was not sent`)), ms);
    });
    return Promise.race([source.next(), stalled]).finally(() => clearTimeout(timer));
  }

  /** After a 354: the body, CRLF-normalized and dot-stuffed, then the end of data and its `count` final replies. */
  private async sendBody(
    prepared: PreparedMessage,
    count = 1,
    guardSevenBit = false,
    beforeEndOfData?: () => void | Promise<void>,
    handoff?: () => void,
  ): Promise<Reply[]> {
    this.state = 'data';
    const codec = new DataCodec();
    await this.stream(
      prepared,
      guardSevenBit,
      async (bytes) => {
        const out = codec.encode(bytes);
        if (out.length > 0) await this.conn.write(out, 'data', this.deadline.wait(TIMEOUTS.block));
      },
      beforeEndOfData,
    );
    const terminator = codec.end();
    this.conn.transcript.body(codec.contentLength);
    await this.checkOpen();
    return this.finalReplies(count, () => this.conn.write(terminator, 'dot', this.deadline.wait(TIMEOUTS.block)), handoff);
  }

  /**
   * BDAT (RFC 3030): the message in chunks counted in octets, so nothing is
   * dot-stuffed and nothing ends it but `LAST`. Line ends are made CRLF as for
   * DATA, so the server reads the same message either way; a BINARYMIME
   * message goes untouched. Each chunk waits for its reply; the last one's
   * replies are the final ones.
   */
  private async sendChunks(
    prepared: PreparedMessage,
    count: number,
    binary: boolean,
    guardSevenBit: boolean,
    beforeEndOfData?: () => void | Promise<void>,
    handoff?: () => void,
  ): Promise<Reply[]> {
    this.state = 'data';
    const codec = binary ? null : new DataCodec({ dotStuffing: false });
    let pending: Buffer[] = [];
    let size = 0;
    let total = 0;
    const writeChunk = async (last: boolean, stage: Stage): Promise<void> => {
      this.conn.send([cmd.bdat(size, last)]);
      for (const piece of pending) await this.conn.write(piece, stage, this.deadline.wait(TIMEOUTS.block));
      total += size;
      pending = [];
      size = 0;
    };
    await this.stream(
      prepared,
      guardSevenBit,
      async (bytes) => {
        const out = codec ? codec.encode(bytes) : bytes;
        if (out.length === 0) return;
        pending.push(out);
        size += out.length;
        if (size < BDAT_CHUNK) return;
        await writeChunk(false, 'data');
        const reply = await this.read('data', TIMEOUTS.block);
        // RFC 3030 §2: after a refused chunk no further chunk may follow; the transaction is over.
        if (!isPositive(reply)) throw this.refusal('data', reply, 'BDAT chunk refused');
      },
      beforeEndOfData,
    );
    const tail = codec ? codec.endLine() : Buffer.alloc(0);
    if (tail.length > 0) {
      pending.push(tail);
      size += tail.length;
    }
    this.conn.transcript.body(total + size);
    await this.checkOpen();
    return this.finalReplies(count, () => writeChunk(true, 'dot'), handoff);
  }

  /**
   * Before the end of data: a connection already lost cannot have taken the
   * message. A server that spoke during the body (no reply is due before the
   * end of data) gets no end of data either: its early reply would be read as
   * the answer to the dot while the server goes on to accept the message, and
   * a failover would then deliver it twice.
   */
  private async checkOpen(): Promise<void> {
    if (this.conn.hasUnread) {
      let early: Reply | null = null;
      try {
        early = await this.conn.readReply('data', 0);
      } catch {
        // Not a whole reply: reported below as a protocol error.
      }
      this.close();
      if (early && early.code >= 400) throw this.refusal('data', early, 'server answered before the end of data');
      throw this.conn.error('EPROTOCOL', 'data', 'server broke the protocol: it sent bytes during the message body; the end of data was not sent');
    }
    if (this.conn.closed) {
      this.state = 'closed';
      throw this.conn.error('ECONNECTION', 'data', `connection to ${this.server}:${this.port} lost before the end of data`);
    }
  }

  /**
   * Sends the end of data and reads the final replies. Once it is out, a lost
   * reply means the server may have taken the message: that is reported as an
   * uncertain outcome, never as a failure that may be retried.
   */
  private async finalReplies(count: number, sendEnd: () => Promise<void>, handoff?: () => void): Promise<Reply[]> {
    const transaction = this.transactions;
    const replies: Reply[] = [];
    try {
      await sendEnd();
      // The next transaction's commands, written in this turn, join the end of data in one write (RFC 2920 §3.1
      // lets message content open a group); its replies are read after this one's final reply.
      if (handoff) handoff();
      for (let i = 0; i < count; i++) replies.push(await this.read('dot', TIMEOUTS.dot, handoff !== undefined));
    } catch (error) {
      if (!(error instanceof SmtpError) || error.replyCode !== null) throw error;
      this.close();
      const uncertain = new UncertainDeliveryError(`no reply to the end of data from ${this.server}:${this.port}: ${error.message}`, { cause: error });
      uncertain.server = this.server;
      uncertain.port = this.port;
      throw uncertain;
    }
    // A transaction that began meanwhile owns the state now; a QUIT sent meanwhile has closed it.
    if (this.transactions === transaction && this.state !== 'closed') this.state = 'ready';
    this.replies = replies;
    return replies;
  }

  /** RSET after an abandoned transaction; the session stays usable if the server agrees. */
  private async abandon(): Promise<void> {
    if (this.state === 'closed') return;
    const reply = await this.exchange(cmd.rset());
    if (isPositive(reply)) this.state = 'ready';
  }
}

const NOTHING = (): void => undefined;

/**
 * An address as sent: a non-ASCII domain becomes its A-label form (IDNA) so a
 * server without SMTPUTF8 can route it; a non-ASCII local part needs SMTPUTF8.
 */
function asciiAddress(address: string, ext: Extensions | null): string {
  if (typeof address !== 'string') throw new InvalidInputError('address', 'an address must be a string');
  if (!/[^\x00-\x7f]/.test(address)) return address;
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? '' : address.slice(at + 1);
  if (ext?.has('SMTPUTF8')) return address;
  if (/[^\x00-\x7f]/.test(local)) {
    throw new InvalidInputError('address', `non-ASCII local part in ${JSON.stringify(address)} needs a server that offers SMTPUTF8`);
  }
  return `${local}@${toASCIIDomain(domain)}`;
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

function readSettings(args: readonly unknown[]): SessionSettings {
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
  if (client !== undefined) client = cmd.checkClientName(hostToAscii(client, 'client'));
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
function defaultClient(conn: Connection, server: string, localAddress: string | undefined): string {
  if (server === 'localhost' || conn.unixSocket || isLoopbackAddress(conn.remoteAddress)) return 'localhost';
  try {
    return cmd.checkClientName(hostToAscii(os.hostname(), 'client'));
  } catch {
    if (!localAddress) return 'localhost';
    const plain = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
    return plain.includes(':') ? `[IPv6:${plain}]` : `[${plain}]`;
  }
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
export async function connect(...flat: unknown[]): Promise<Session>;
export async function connect(...args: unknown[]): Promise<Session> {
  const settings = readSettings(args);
  const deadline = new Deadline(settings.maxsecs);
  const transcript = new Transcript(debugSink(settings.debug));
  const conn = await Connection.open({
    host: settings.server,
    port: settings.port,
    tls: settings.tls,
    timeoutMs: deadline.wait(settings.connectTimeoutSecs),
    transcript,
    lookup: settings.lookup,
  });
  const client = settings.client ?? defaultClient(conn, settings.server, conn.localAddress);
  const session = new SmtpSession(conn, settings.server, settings.port, deadline, client, settings.insecureauth, settings.protocol);
  await session.readGreeting();
  return session;
}

export type { Session } from './types';
