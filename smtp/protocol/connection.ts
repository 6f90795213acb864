/**
 * One TCP (or TLS) connection to an SMTP server: a bounded line reader, replies
 * read within a deadline, command lines written through `commandBytes`, and the
 * STARTTLS upgrade. Every wait here ends: by a reply, by the server closing, or
 * by its deadline (docs/security.md, A12, A13).
 */
import { abortError, whenAborted } from './abort';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { SmtpError, type SmtpErrorCode, type Stage } from '../../lib/errors';
import { type Command, commandBytes } from './command';
import { type Transcript } from './debug';
import { MAX_LINE_LENGTH, MAX_REPLY_BYTES, ReplyAssembler } from './reply';
import type { Reply } from './types';
import { LF } from '../../lib/bytes';


/** The overall deadline of a connection (`maxsecs`); each wait is the smaller of its own limit and the time left. */
export class Deadline {
  readonly end: number;
  constructor(seconds: number) {
    this.end = Date.now() + seconds * 1000;
  }

  /** Milliseconds to wait for something whose own limit is `limitSecs`. */
  wait(limitSecs: number): number {
    return Math.max(0, Math.min(limitSecs * 1000, this.end - Date.now()));
  }

  /** True when the time left is shorter than the step's own limit (a timeout is then the overall deadline's). */
  bounds(limitSecs: number): boolean {
    return this.end - Date.now() < limitSecs * 1000;
  }
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(plain)) return plain.startsWith('127.');
  return plain === '::1' || plain === '0:0:0:0:0:0:0:1';
}

/** A server given as a path is a Unix socket (LMTP's usual home): host names never start with '/'. */
export function isSocketPath(host: string): boolean {
  return host.startsWith('/');
}

export interface OpenOptions {
  /** A host name or address, or the path of a Unix socket. */
  host: string;
  port: number;
  /** TLS options for implicit TLS, or null for plain TCP. */
  tls: tls.ConnectionOptions | null;
  timeoutMs: number;
  transcript: Transcript;
  /** Resolves `host` instead of DNS (see ConnectOptions.lookup). */
  lookup?: net.LookupFunction;
  /** Aborts the connection attempt (the socket is destroyed; AbortError). */
  signal?: AbortSignal;
}

// Node's codes for a certificate that does not chain to a trusted CA (self-signed, a private CA).
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * What to do about a failed TLS setup, for the two failures people meet most:
 * a relay whose certificate comes from a private CA or signs itself, and
 * implicit TLS against a port that speaks SMTP first (a STARTTLS port).
 */
export function tlsAdvice(error: NodeJS.ErrnoException, implicit: boolean): string {
  const code = error.code ?? '';
  if (UNTRUSTED.has(code)) {
    const plain = implicit ? 'or connect without implicit TLS (no tlsimport)' : 'or send without TLS (usetls: false)';
    return ` — the certificate is not signed by a CA this process trusts: trust the server's CA with tls: { ca } (tclmail send --ca FILE), let a tlspolicy decide, ${plain}`;
  }
  if (implicit && (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(error.message))) {
    return ' — this port does not speak TLS first (it answered in clear text, as a STARTTLS port does): drop tlsimport (or tls: \'implicit\'), or use the implicit-TLS port (465)';
  }
  return '';
}

/** A connected socket with the SMTP line discipline on top. */
export class Connection {
  private socket: net.Socket;
  // Message bytes are held (socket.cork) until a reply is awaited, so that a short message and its end of data
  // leave in one write, but never past the current turn of the event loop: the message source may be waiting on
  // the server (or on anything else), and bytes held meanwhile would never leave. How much the socket holds before
  // write() reports backpressure is Node's default high-water mark (16 KiB on Node 20, 64 KiB from 22), so it
  // cannot be what sends them.
  private corked = false;
  // A partial line: its pieces and their total length.
  private partial: Buffer[] = [];
  private partialLength = 0;
  // Complete lines not yet read, and their size.
  private lines: string[] = [];
  private queuedBytes = 0;
  private ended = false;
  private endCause: Error | undefined;
  // Why the line reader gave up (an overlong line, a flood): the next read fails with it.
  private failure: string | null = null;
  private wake: (() => void) | null = null;
  // Reads asked for and not yet settled, and the last of them (the next one starts after it).
  private reading = 0;
  private lastRead: Promise<Reply> | null = null;
  private readonly onData = (chunk: Buffer): void => this.take(chunk);
  private readonly onEnd = (): void => this.finish();
  private readonly onError = (error: Error): void => this.finish(error);

  private constructor(
    socket: net.Socket,
    readonly host: string,
    readonly port: number,
    readonly transcript: Transcript,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Opens the connection (and the implicit TLS handshake) within `timeoutMs`. */
  static open(options: OpenOptions): Promise<Connection> {
    const { host, port, timeoutMs, transcript } = options;
    return new Promise((resolve, reject) => {
      const ip = net.isIP(host) !== 0;
      const resolver = options.lookup ? { lookup: options.lookup } : {};
      const where = isSocketPath(host) ? { path: host } : { host, port, ...resolver };
      const servername = ip || isSocketPath(host) ? undefined : host;
      const socket = options.tls ? tls.connect({ ...where, servername, ...options.tls }) : net.connect(where);
      const ready = options.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(withPlace(new SmtpError('ETIMEOUT', 'connect', `connecting to ${host}:${port} timed out after ${timeoutMs} ms`), host, port));
      }, timeoutMs);
      let stopAbort = (): void => undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        stopAbort();
        socket.removeListener(ready, onReady);
        socket.removeListener('error', onError);
      };
      const onReady = (): void => {
        cleanup();
        // Commands are small and each waits for a reply: Nagle's delay would only add latency.
        socket.setNoDelay(true);
        transcript.note(`connected to ${host}:${port}${options.tls ? ' (TLS)' : ''}`);
        resolve(new Connection(socket, host, port, transcript));
      };
      const onError = (error: NodeJS.ErrnoException): void => {
        cleanup();
        socket.destroy();
        // Once TCP is up, a failure is the TLS handshake's or the certificate's.
        const tlsFailure = Boolean(options.tls) && tcpConnected;
        const code: SmtpErrorCode = tlsFailure ? 'ETLS' : 'ECONNECTION';
        const advice = tlsFailure ? tlsAdvice(error, true) : '';
        reject(withPlace(new SmtpError(code, tlsFailure ? 'tls' : 'connect', `couldn't open socket: ${error.message}${advice}`, { cause: error }), host, port));
      };
      let tcpConnected = false;
      socket.once('connect', () => (tcpConnected = true));
      socket.once(ready, onReady);
      socket.once('error', onError);
      stopAbort = whenAborted(options.signal, () => {
        cleanup();
        socket.destroy();
        reject(abortError(options.signal as AbortSignal));
      });
    });
  }

  /** True once the connection is TLS. */
  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted === true;
  }

  /** The peer's address, for the loopback test of AUTH. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** True for a Unix socket: as local as loopback. */
  get unixSocket(): boolean {
    return isSocketPath(this.host);
  }

  /** This side's address, for an address-literal EHLO name. */
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get closed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  /** True when the server sent bytes that have not been read as a reply. */
  get hasUnread(): boolean {
    return this.lines.length > 0 || this.partialLength > 0;
  }

  /** Writes command lines in one write (pipelining puts several in one). Throws InvalidInputError before writing anything bad. */
  send(commands: readonly Command[]): void {
    const bytes = commandBytes(commands);
    if (this.hasUnread) {
      // Every reply so far has been read: anything left is unrequested, and each later reply would be
      // taken as the answer to the wrong command (response injection; a refused RCPT that was accepted).
      const error = this.error('EPROTOCOL', commands[0]?.stage ?? 'connect', `server broke the protocol: it sent a reply no command asked for, before ${commands[0]?.verb || 'a command'}`);
      this.destroy();
      throw error;
    }
    this.transcript.sent(commands);
    if (!this.closed) this.socket.write(bytes);
  }

  /**
   * Writes message bytes, waiting for the socket to drain when its buffer is
   * full, at most `timeoutMs` (RFC 5321's data-block limit).
   */
  write(bytes: Buffer, stage: Stage, timeoutMs: number): Promise<void> {
    if (this.failure) return Promise.reject(this.protocolError(stage));
    if (this.closed) return Promise.reject(this.lost(stage));
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.flushLater);
    }
    if (this.socket.write(bytes)) return Promise.resolve();
    // The buffer is full: let it go out, or 'drain' would never come.
    this.flush();
    // The kernel took all of it: nothing to wait for (the 'drain' that follows finds no listener).
    if (this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        this.destroy();
        reject(this.error('ETIMEOUT', stage, `writing to the server timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onDrain = (): void => {
        done();
        resolve();
      };
      const onClose = (): void => {
        done();
        reject(this.failure ? this.protocolError(stage) : this.lost(stage));
      };
      const done = (): void => {
        clearTimeout(timer);
        this.socket.removeListener('drain', onDrain);
        this.socket.removeListener('close', onClose);
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /**
   * Reads one reply, all its lines within `timeoutMs` (one timer for the whole
   * reply, so a server trickling lines cannot stretch it). A timeout, a drop or
   * a malformed reply leaves the connection unusable: it is closed.
   */
  readReply(stage: Stage, timeoutMs: number, deferFlush = false): Promise<Reply> {
    return this.queueRead(stage, timeoutMs, deferFlush, 1);
  }

  /**
   * Reads the replies to `count` pipelined commands (RCPTs), each within
   * `timeoutMs` of the one before but none after `endsAt` (ms since the epoch:
   * the session's overall deadline), with one promise and one timer for them
   * all. A 421 ends the list early (the server is closing): it is the last one.
   */
  async readReplies(stage: Stage, timeoutMs: number, count: number, endsAt: number): Promise<Reply[]> {
    const replies: Reply[] = [];
    await this.queueRead(stage, timeoutMs, false, count, replies, endsAt);
    return replies;
  }

  private queueRead(stage: Stage, timeoutMs: number, deferFlush: boolean, count: number, each?: Reply[], endsAt = Infinity): Promise<Reply> {
    // Deferred: held bytes (an end of data) wait until the current turn's work is done, so that the next
    // transaction's commands, written in that turn, leave with them in one write.
    if (deferFlush) process.nextTick(this.flushLater);
    else this.flush();
    // Replies are read in the order asked for: a read asked while another waits starts once that one is done.
    const go = (): Promise<Reply> => this.readOne(stage, timeoutMs, count, each, endsAt);
    const queued = this.reading > 0;
    this.reading++;
    const run = queued ? (this.lastRead as Promise<Reply>).then(go, go) : go();
    this.lastRead = run;
    return run;
  }

  private readonly flushLater = (): void => this.flush();

  private readOne(stage: Stage, timeoutMs: number, count: number, each?: Reply[], endsAt = Infinity): Promise<Reply> {
    let assembler = new ReplyAssembler(stage);
    let left = count;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (error: SmtpError | null, reply?: Reply): void => {
        if (settled) return;
        settled = true;
        this.reading--;
        if (timer) clearTimeout(timer);
        this.wake = null;
        if (error) {
          this.destroy();
          reject(error);
        } else resolve(reply as Reply);
      };
      const step = (): void => {
        while (this.lines.length > 0) {
          const line = this.lines.shift() as string;
          this.queuedBytes -= line.length + 2;
          this.transcript.received(line);
          let reply: Reply | null;
          try {
            reply = assembler.push(line);
          } catch (error) {
            settle(withPlace(error as SmtpError, this.host, this.port));
            return;
          }
          if (reply) {
            each?.push(reply);
            if (--left === 0 || reply.code === 421) {
              settle(null, reply);
              return;
            }
            // The next reply gets a whole timeout of its own, as it would if read alone, within the deadline.
            assembler = new ReplyAssembler(stage);
            const next = Math.min(timeoutMs, endsAt - Date.now());
            if (next >= timeoutMs) timer?.refresh();
            else {
              clearTimeout(timer);
              timer = setTimeout(expire, Math.max(0, next));
            }
          }
        }
        if (this.failure) settle(this.protocolError(stage));
        else if (this.closed) settle(this.lost(stage));
        else this.wake = step;
      };
      const expire = (): void => {
        settle(this.error('ETIMEOUT', stage, `read from server timed out after ${timeoutMs} ms`));
      };
      timer = setTimeout(expire, timeoutMs);
      step();
    });
  }

  /**
   * Starts TLS on this connection after the server's 220 to STARTTLS. Bytes
   * already received are an attack (docs/security.md, A5): the connection is closed
   * and ETLS thrown. Certificates and the host name are verified unless the
   * options say otherwise; the name checked is `servername`, else the server.
   */
  async startTls(options: tls.ConnectionOptions, timeoutMs: number): Promise<void> {
    if (this.hasUnread) {
      const unread = this.lines.length + (this.partialLength > 0 ? 1 : 0);
      this.destroy();
      throw this.error('ETLS', 'tls', `server sent ${unread} line(s) after its STARTTLS reply and before the TLS handshake; refusing them (possible injection)`);
    }
    const plain = this.socket;
    this.detach(plain);
    // The TLS socket reports the transport's errors from now on; this keeps one from going unhandled.
    plain.on('error', () => undefined);
    const ip = net.isIP(this.host) !== 0;
    const secure = tls.connect({ host: this.host, servername: ip || isSocketPath(this.host) ? undefined : this.host, ...options, socket: plain });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`TLS handshake timed out after ${timeoutMs} ms`)), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        secure.removeListener('secureConnect', onSecure);
        secure.removeListener('error', fail);
        secure.removeListener('close', onClose);
      };
      const onSecure = (): void => {
        done();
        resolve();
      };
      const onClose = (): void => fail(new Error('connection closed during the TLS handshake'));
      const fail = (error: Error): void => {
        done();
        secure.destroy();
        plain.destroy();
        this.ended = true;
        reject(this.error('ETLS', 'tls', `TLS handshake with ${this.host} failed: ${error.message}${tlsAdvice(error, false)}`, error));
      };
      secure.once('secureConnect', onSecure);
      secure.once('error', fail);
      secure.once('close', onClose);
    });
    this.socket = secure;
    this.corked = false;
    this.attach(secure);
    this.transcript.note(`TLS established (${secure.getProtocol() ?? 'unknown protocol'}, ${secure.getCipher()?.name ?? 'unknown cipher'})`);
  }

  /** Half-closes politely; the socket is destroyed once the server closes or after `graceMs`. */
  end(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => this.destroy(), graceMs);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.flush();
      this.socket.end();
    });
  }

  /** Sends what write() has held back. */
  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  destroy(): void {
    this.ended = true;
    this.socket.destroy();
    this.wake?.();
  }

  /** A typed error for this connection, with server and port filled in. */
  error(code: SmtpErrorCode, stage: Stage, message: string, cause?: unknown): SmtpError {
    return withPlace(new SmtpError(code, stage, message, cause === undefined ? {} : { cause }), this.host, this.port);
  }

  private lost(stage: Stage): SmtpError {
    const why = this.endCause ? `: ${this.endCause.message}` : '';
    return this.error('ECONNECTION', stage, `premature end-of-file from server ${this.host}:${this.port}${why}`, this.endCause);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private detach(socket: net.Socket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onEnd);
    socket.removeListener('error', this.onError);
  }

  private finish(cause?: Error): void {
    if (cause && !this.endCause) this.endCause = cause;
    this.ended = true;
    this.wake?.();
  }

  private take(chunk: Buffer): void {
    if (this.failure) return;
    let start = 0;
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, lf);
      const whole = this.partialLength ? Buffer.concat([...this.partial, piece]) : piece;
      this.partial = [];
      this.partialLength = 0;
      start = lf + 1;
      const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
      if (end > MAX_LINE_LENGTH) return this.overflow(`a reply line longer than ${MAX_LINE_LENGTH} bytes`);
      const line = whole.toString('utf8', 0, end);
      this.lines.push(line);
      this.queuedBytes += line.length + 2;
      if (this.queuedBytes > MAX_REPLY_BYTES) return this.overflow(`more than ${MAX_REPLY_BYTES} bytes of replies not asked for`);
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialLength += chunk.length - start;
      if (this.partialLength > MAX_LINE_LENGTH + 1) return this.overflow(`a reply line longer than ${MAX_LINE_LENGTH} bytes`);
    }
    this.wake?.();
  }

  private protocolError(stage: Stage): SmtpError {
    return this.error('EPROTOCOL', stage, `server broke the protocol: ${this.failure}`);
  }

  private overflow(what: string): void {
    this.failure = what;
    this.partial = [];
    this.lines = [];
    this.destroy();
  }
}

function withPlace(error: SmtpError, server: string, port: number): SmtpError {
  if (error instanceof SmtpError) {
    error.server ??= server;
    error.port ??= port;
  }
  return error;
}
