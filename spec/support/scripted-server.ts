/**
 * A raw SMTP server for tests, on 127.0.0.1 and an ephemeral port, whose
 * behaviour per connection is a script. Tests read like the protocol:
 *
 *   const srv = await scriptedServer({
 *     ehlo: ['250-test', '250-PIPELINING', '250 SIZE 1000'],
 *     on: { 'RCPT TO:<bad@x.y>': '550 5.1.1 no such user', '.': '250 queued' },
 *   });
 *
 * It answers the usual verbs by default, records every client line, keeps the
 * messages it accepted, and can misbehave on cue: stall, drop, reply slowly, send
 * garbage or split replies, inject bytes after its STARTTLS 220.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { testCertificate } from './certs';

/** What the server does in reply to one client line (or for the greeting). */
export interface ActionObject {
  /** Reply line(s), each written with CRLF; several lines are sent in one write. */
  reply?: string | string[];
  /** Bytes written verbatim right after the reply, in the same write (garbage, injected lines). */
  raw?: Buffer | string;
  /** Written in order after `reply`/`raw`; a number pauses that many milliseconds (split replies). */
  chunks?: Array<Buffer | string | number>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Destroy the connection after writing (no FIN handshake courtesy). */
  drop?: boolean;
  /** End the connection gracefully after writing. */
  close?: boolean;
  /** Never answer; later lines of this connection are not answered either. */
  stall?: boolean;
  /** Start TLS (server side) right after writing: the STARTTLS 220. */
  upgrade?: boolean;
  /** Write this line (plus CRLF) again and again until the client goes away. */
  endless?: string;
}

/** A function action: gets the client line ('' for the greeting); returning nothing means "the default". */
export type ActionFunction = (line: string, conn: ScriptedConnection) => Action | undefined | void | Promise<Action | undefined | void>;

/** A string is one reply line, an array is a multi-line reply written as given. */
export type Action = string | string[] | ActionObject | ActionFunction;

export interface Script {
  /** Default `220 scripted.test ESMTP ready`. */
  greeting?: Action;
  /** The EHLO reply. Default: PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES (and STARTTLS when `tls` is set). */
  ehlo?: Action;
  /** The EHLO reply once TLS is on. Default: `ehlo` as given, else the default without STARTTLS. */
  ehloAfterTls?: Action;
  /** Default `250 scripted.test`. */
  helo?: Action;
  /**
   * Actions by client line. A key matches the whole line (case-insensitively), or
   * failing that its start up to a word boundary ('MAIL' matches 'MAIL FROM:<a@b>');
   * the longest key wins. '.' is the end of data. Unmatched lines get the defaults.
   */
  on?: Record<string, Action>;
  /** The answer to a line no key and no built-in verb matches (default `500 5.5.2 command not recognized`), e.g. AUTH responses. */
  otherwise?: Action;
  /** Offer STARTTLS with this certificate (true: {@link testCertificate}()). */
  tls?: boolean | { key: string; cert: string };
  /** Implicit TLS: the connection is TLS from the first byte (needs `tls` or uses the test certificate). */
  secure?: boolean;
  /** Per-connection overrides, merged over this script (`on` maps are merged key by key). */
  connection?: (index: number) => Partial<Script> | undefined;
}

/** One message the server received after a 354. */
export interface ReceivedMessage {
  connection: number;
  mailFrom: string;
  /** Parameters after the MAIL address, e.g. ['SIZE=123', 'BODY=8BITMIME']. */
  mailParams: string[];
  /** Recipients whose RCPT got a 2xx reply. */
  rcptTo: string[];
  /** The message with dot-stuffing undone, up to and including the CRLF before the final dot. */
  data: Buffer;
  /** Exactly the bytes the client sent after the 354, the final CRLF.CRLF included. */
  raw: Buffer;
  /** The code of the reply to the final dot. */
  replyCode: number;
}

export interface ScriptedConnection {
  readonly index: number;
  /** Every client line (CRLF removed), message lines excluded; the end of data is recorded as '.'. */
  readonly lines: string[];
  /**
   * The same lines grouped by client turn: a new group starts with a line that arrived
   * after the server's latest reply. `batches.length` is the number of round trips.
   */
  readonly batches: string[][];
  /** Lines that ended in a bare LF instead of CRLF. */
  readonly bareLineFeeds: string[];
  secure: boolean;
  /** The SNI name the client sent in its TLS handshake, if any. */
  servername: string | null;
  mailFrom: string | null;
  mailParams: string[];
  rcptTo: string[];
  /** Free for scripts to keep per-connection state. */
  readonly state: Record<string, unknown>;
  closed: boolean;
  write(bytes: string | Buffer): void;
  destroy(): void;
}

export interface ScriptedServer {
  readonly port: number;
  readonly host: string;
  /** Number of connections accepted so far. */
  readonly connections: number;
  /** Per connection, every client line (see {@link ScriptedConnection.lines}). */
  readonly transcript: string[][];
  /** Connection records, in order of arrival. */
  readonly conns: ScriptedConnection[];
  /** Messages whose final dot got a 2xx reply. */
  readonly messages: ReceivedMessage[];
  /** Every message the server read to its final dot, accepted or not. */
  readonly received: ReceivedMessage[];
  /** The certificate in use when TLS is on (its `ca` is what a client should trust). */
  readonly certificate: { key: string; cert: string; ca?: string } | null;
  /** Resolves once connection `index` has been closed by either side. */
  closedConnection(index: number): Promise<void>;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** Cycles through `actions` on successive calls (across connections), repeating the last one. */
export function inTurn(...actions: Action[]): ActionFunction {
  let next = 0;
  return () => actions[Math.min(next++, actions.length - 1)];
}

const CRLF = '\r\n';
const TERMINATOR = Buffer.from('\r\n.\r\n');

function defaultEhlo(withStartTls: boolean): string[] {
  const lines = ['250-scripted.test greets you', '250-PIPELINING', '250-8BITMIME'];
  if (withStartTls) lines.push('250-STARTTLS');
  lines.push('250 ENHANCEDSTATUSCODES');
  return lines;
}

const DEFAULTS: Record<string, string> = {
  HELO: '250 scripted.test',
  MAIL: '250 2.1.0 sender ok',
  RCPT: '250 2.1.5 recipient ok',
  DATA: '354 end data with <CR><LF>.<CR><LF>',
  '.': '250 2.0.0 queued',
  RSET: '250 2.0.0 reset',
  NOOP: '250 2.0.0 ok',
  QUIT: '221 2.0.0 bye',
  VRFY: '252 2.1.5 cannot verify, will attempt delivery',
  EXPN: '502 5.5.1 EXPN not available',
  STARTTLS: '502 5.5.1 STARTTLS not offered',
  AUTH: '504 5.5.4 unrecognized authentication type',
};

function mergeScripts(base: Script, extra: Partial<Script> | undefined): Script {
  if (!extra) return base;
  return { ...base, ...extra, on: { ...(base.on ?? {}), ...(extra.on ?? {}) } };
}

function findAction(on: Record<string, Action>, line: string): Action | undefined {
  const upper = line.toUpperCase();
  let best: string | undefined;
  for (const key of Object.keys(on)) {
    const k = key.toUpperCase();
    if (k === upper) return on[key];
    if (!upper.startsWith(k)) continue;
    const next = upper.charAt(k.length);
    const boundary = /[^A-Z0-9]/.test(k.charAt(k.length - 1)) || /[^A-Z0-9]/.test(next);
    if (boundary && (best === undefined || k.length > best.length)) best = key;
  }
  return best === undefined ? undefined : on[best];
}

function replyCodeOf(lines: string[]): number {
  const last = lines[lines.length - 1] ?? '';
  const code = Number(last.slice(0, 3));
  return Number.isInteger(code) ? code : 0;
}

function sentLines(act: ActionObject): string[] {
  const pieces = [act.raw ?? '', ...(act.chunks ?? []).filter((piece) => typeof piece !== 'number')];
  const text = pieces.map((piece) => (typeof piece === 'string' ? piece : Buffer.from(piece as Uint8Array).toString('latin1'))).join('');
  return text.split('\r\n').slice(0, -1);
}

function addressOf(line: string): { address: string; params: string[] } {
  const colon = line.indexOf(':');
  const rest = colon < 0 ? '' : line.slice(colon + 1).trim();
  if (rest.startsWith('<')) {
    const close = rest.indexOf('>');
    const address = close < 0 ? rest.slice(1) : rest.slice(1, close);
    const params = close < 0 ? [] : rest.slice(close + 1).trim().split(/\s+/).filter(Boolean);
    return { address, params };
  }
  const [address = '', ...params] = rest.split(/\s+/);
  return { address, params };
}

function unstuff(body: Buffer): Buffer {
  // Undo RFC 5321 §4.5.2 transparency: a line starting with '.' lost its first dot.
  const out: Buffer[] = [];
  let start = 0;
  let lineStart = true;
  for (let i = 0; i < body.length; i++) {
    if (lineStart && body[i] === 0x2e) {
      out.push(body.subarray(start, i));
      start = i + 1;
    }
    lineStart = body[i] === 0x0a && i > 0 && body[i - 1] === 0x0d;
  }
  out.push(body.subarray(start));
  return Buffer.concat(out);
}

/** Starts a scripted SMTP server on 127.0.0.1, port 0. */
export async function scriptedServer(script: Script = {}): Promise<ScriptedServer> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const conns: ScriptedConnection[] = [];
  const closedWaiters = new Map<number, Promise<void>>();
  const messages: ReceivedMessage[] = [];
  const received: ReceivedMessage[] = [];
  let stopped = false;

  const wantsTls = Boolean(script.tls || script.secure);
  const certificate = wantsTls
    ? typeof script.tls === 'object'
      ? script.tls
      : await testCertificate()
    : null;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const handle = (raw: net.Socket): void => {
    const index = conns.length;
    const own = mergeScripts(script, script.connection?.(index));
    const on = own.on ?? {};
    const offersStartTls = Boolean(own.tls) && !own.secure;

    let socket: net.Socket = raw;
    let tick = 0;
    let lastReplyTick = -1;
    let buf: Buffer = Buffer.alloc(0);
    let bufTick = 0;
    const chunks: Array<{ bytes: Buffer; tick: number }> = [];
    let mode: 'command' | 'data' | 'stalled' = 'command';
    let pumping = false;
    let dataScanFrom = 0;
    let resolveClosed!: () => void;
    closedWaiters.set(index, new Promise((resolve) => (resolveClosed = resolve)));

    const conn: ScriptedConnection = {
      index,
      lines: [],
      batches: [],
      bareLineFeeds: [],
      secure: Boolean(own.secure),
      servername: null,
      mailFrom: null,
      mailParams: [],
      rcptTo: [],
      state: {},
      closed: false,
      write(bytes) {
        if (!conn.closed && !socket.destroyed) socket.write(bytes);
        lastReplyTick = ++tick;
      },
      destroy() {
        socket.destroy();
        raw.destroy();
      },
    };
    conns.push(conn);

    const resetEnvelope = (): void => {
      conn.mailFrom = null;
      conn.mailParams = [];
      conn.rcptTo = [];
    };

    const onData = (bytes: Buffer): void => {
      chunks.push({ bytes, tick: ++tick });
      void pump();
    };

    const markClosed = (): void => {
      if (conn.closed) return;
      conn.closed = true;
      sockets.delete(raw);
      resolveClosed();
    };
    // Replies are small and the client waits for each: Nagle's delay would only add latency.
    raw.setNoDelay(true);
    raw.on('close', markClosed);
    raw.on('error', () => undefined);
    sockets.add(raw);

    const record = (line: string, arrived: number): void => {
      conn.lines.push(line);
      // A line that arrived before the server's latest reply was sent without waiting for it (pipelined).
      const last = conn.batches[conn.batches.length - 1];
      if (last && arrived < lastReplyTick) last.push(line);
      else conn.batches.push([line]);
    };

    /** TLS over the raw socket, server side: the name the client asked for is recorded; the data goes to onData. */
    const serverTls = (): tls.TLSSocket => {
      const context = (): tls.SecureContext => tls.createSecureContext({ key: certificate!.key, cert: certificate!.cert });
      const secure = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: context(),
        SNICallback: (name, cb) => {
          conn.servername = name;
          cb(null, context());
        },
      });
      secure.on('error', () => raw.destroy());
      secure.on('data', onData);
      socket = secure;
      return secure;
    };

    const upgrade = (): void => {
      // The server forgets whatever arrived before the handshake (RFC 3207 §4.2).
      raw.removeListener('data', onData);
      chunks.length = 0;
      buf = Buffer.alloc(0);
      const secureSocket = serverTls();
      secureSocket.on('secure', () => {
        conn.secure = true;
      });
      resetEnvelope();
    };

    const perform = async (action: Action | undefined, line: string, fallback: () => Action): Promise<number> => {
      const settle = async (first: Action | undefined): Promise<Exclude<Action, ActionFunction> | undefined> => {
        let next = first;
        while (typeof next === 'function') next = (await next(line, conn)) ?? undefined;
        return next;
      };
      // A function that returns nothing falls back to the default, and a default that returns nothing to a 500.
      const current = (await settle(action)) ?? (await settle(fallback())) ?? '500 5.5.2 command not recognized';
      const act: ActionObject = typeof current === 'string' || Array.isArray(current) ? { reply: current } : (current);
      if (act.delayMs) await sleep(act.delayMs);
      if (act.stall) {
        mode = 'stalled';
        return 0;
      }
      const lines = act.reply === undefined ? [] : Array.isArray(act.reply) ? act.reply : [act.reply];
      const out: Buffer[] = [];
      if (lines.length) out.push(Buffer.from(lines.map((l) => l + CRLF).join(''), 'latin1'));
      if (act.raw !== undefined) out.push(typeof act.raw === 'string' ? Buffer.from(act.raw, 'latin1') : act.raw);
      if (out.length) conn.write(Buffer.concat(out));
      for (const piece of act.chunks ?? []) {
        if (typeof piece === 'number') await sleep(piece);
        else conn.write(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece);
      }
      if (act.endless !== undefined) {
        const bytes = Buffer.from(act.endless + CRLF, 'latin1');
        while (!conn.closed && !socket.destroyed && !stopped) {
          if (!socket.write(bytes)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
          else await new Promise((resolve) => setImmediate(resolve));
        }
        return 0;
      }
      // A reply sent as raw bytes or in pieces counts by its last complete line, as the client reads it.
      const code = lines.length > 0 ? replyCodeOf(lines) : replyCodeOf(sentLines(act));
      if (act.upgrade) upgrade();
      if (act.drop) {
        mode = 'stalled';
        conn.destroy();
      } else if (act.close || code === 421) {
        mode = 'stalled';
        socket.end();
      }
      return code;
    };

    const command = async (line: string): Promise<void> => {
      const verb = (line.split(' ')[0] ?? '').toUpperCase();
      const fallback = (): Action => {
        if (verb === 'EHLO') {
          if (conn.secure && !own.secure) return own.ehloAfterTls ?? own.ehlo ?? defaultEhlo(false);
          return own.ehlo ?? defaultEhlo(offersStartTls);
        }
        if (verb === 'HELO') return own.helo ?? DEFAULTS.HELO;
        if (verb === 'STARTTLS' && offersStartTls && !conn.secure) return { reply: '220 2.0.0 ready to start TLS', upgrade: true };
        if (verb === 'QUIT') return { reply: DEFAULTS.QUIT, close: true };
        // As Postfix answers a DATA that came (pipelined) after every RCPT was refused.
        if (verb === 'DATA' && conn.mailFrom === null) return '503 5.5.1 need MAIL command';
        if (verb === 'DATA' && conn.rcptTo.length === 0) return '554 5.5.1 no valid recipients';
        return DEFAULTS[verb] ?? own.otherwise ?? '500 5.5.2 command not recognized';
      };
      // EHLO replies are looked up in `on` too, so a script can override them there.
      const code = await perform(findAction(on, line), line, fallback);
      const positive = code >= 200 && code < 300;
      if (verb === 'EHLO' || verb === 'HELO' || verb === 'RSET') resetEnvelope();
      else if (verb === 'MAIL' && positive) {
        const { address, params } = addressOf(line);
        conn.mailFrom = address;
        conn.mailParams = params;
      } else if (verb === 'RCPT' && positive) conn.rcptTo.push(addressOf(line).address);
      else if (verb === 'DATA' && code === 354 && mode === 'command') {
        mode = 'data';
        dataScanFrom = 0;
      }
    };

    const endOfData = async (rawBytes: Buffer, arrived: number): Promise<void> => {
      record('.', arrived);
      // Keep the CRLF before the dot: it ends the message's last line.
      const body = rawBytes.length === 3 ? Buffer.alloc(0) : rawBytes.subarray(0, rawBytes.length - 3);
      const message: ReceivedMessage = {
        connection: index,
        mailFrom: conn.mailFrom ?? '',
        mailParams: conn.mailParams,
        rcptTo: conn.rcptTo,
        data: unstuff(body),
        raw: rawBytes,
        replyCode: 0,
      };
      mode = 'command';
      const code = await perform(findAction(on, '.'), '.', () => DEFAULTS['.']);
      message.replyCode = code;
      received.push(message);
      if (code >= 200 && code < 300) messages.push(message);
      resetEnvelope();
    };

    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      try {
        for (;;) {
          if (mode === 'stalled' || conn.closed) return;
          if (mode === 'command') {
            const lf = buf.indexOf(0x0a);
            if (lf >= 0) {
              const bareLf = lf === 0 || buf[lf - 1] !== 0x0d;
              const line = buf.subarray(0, bareLf ? lf : lf - 1).toString('latin1');
              buf = buf.subarray(lf + 1);
              if (bareLf) conn.bareLineFeeds.push(line);
              record(line, bufTick);
              await command(line);
              continue;
            }
          } else {
            // A message may be empty: then the very first line is the dot.
            let end = -1;
            if (buf.length >= 3 && buf[0] === 0x2e && buf[1] === 0x0d && buf[2] === 0x0a) end = 3;
            else {
              const at = buf.indexOf(TERMINATOR, Math.max(0, dataScanFrom));
              if (at >= 0) end = at + TERMINATOR.length;
              else dataScanFrom = Math.max(0, buf.length - TERMINATOR.length);
            }
            if (end >= 0) {
              const rawBytes = buf.subarray(0, end);
              buf = buf.subarray(end);
              await endOfData(Buffer.from(rawBytes), bufTick);
              continue;
            }
          }
          const next = chunks.shift();
          if (!next) return;
          buf = buf.length ? Buffer.concat([buf, next.bytes]) : next.bytes;
          bufTick = next.tick;
        }
      } finally {
        pumping = false;
      }
    };

    const start = async (): Promise<void> => {
      if (own.secure) {
        const secureSocket = serverTls();
        await new Promise<void>((resolve) => {
          secureSocket.once('secure', () => resolve());
          secureSocket.once('close', () => resolve());
        });
        if (conn.closed) return;
      } else raw.on('data', onData);
      pumping = true;
      try {
        await perform(own.greeting, '', () => '220 scripted.test ESMTP ready');
      } finally {
        pumping = false;
      }
      void pump();
    };
    void start();
  };

  const server = net.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    host: '127.0.0.1',
    get connections() {
      return conns.length;
    },
    get transcript() {
      return conns.map((c) => c.lines);
    },
    conns,
    messages,
    received,
    certificate,
    closedConnection(index: number) {
      return closedWaiters.get(index) ?? Promise.reject(new Error(`no connection ${index}`));
    },
    async close() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
