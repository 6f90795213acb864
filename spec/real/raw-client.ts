/**
 * A bare SMTP client for the real-server tests: it writes exactly the bytes a
 * test gives it and hands back each reply, so a test can speak what no
 * library client speaks on demand (BDAT, a pipelined burst, a UTF-8 address
 * without SMTPUTF8) and see the server's own answer.
 */
import * as net from 'node:net';

export interface RawReply {
  code: number;
  /** Each line's text after the code and its separator. */
  lines: string[];
}

export class RawClient {
  private buffer = '';
  private replies: RawReply[] = [];
  private waiting: Array<(reply: RawReply) => void> = [];
  private closed: Error | null = null;
  private failWaiting: Array<(error: Error) => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.feed(chunk.toString('utf8')));
    const end = (error?: Error) => {
      this.closed = error ?? new Error('connection closed');
      for (const fail of this.failWaiting.splice(0)) fail(this.closed);
      this.waiting = [];
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  /** Connects to 127.0.0.1:port and returns with the greeting read. */
  static async connect(port: number): Promise<{ client: RawClient; greeting: RawReply }> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setTimeout(15000, () => socket.destroy(new Error('raw client: no reply within 15 s')));
    const client = new RawClient(socket);
    return { client, greeting: await client.reply() };
  }

  private feed(text: string): void {
    this.buffer += text;
    let lines: string[] = [];
    let end: number;
    let start = 0;
    // A reply ends at a line whose fourth character is a space (RFC 5321 §4.2.1).
    while ((end = this.buffer.indexOf('\r\n', start)) >= 0) {
      const line = this.buffer.slice(start, end);
      start = end + 2;
      lines.push(line);
      if (line.charAt(3) !== '-') {
        const reply = { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)) };
        lines = [];
        this.buffer = this.buffer.slice(start);
        start = 0;
        const next = this.waiting.shift();
        this.failWaiting.shift();
        if (next) next(reply);
        else this.replies.push(reply);
      }
    }
  }

  /** The next reply. */
  reply(): Promise<RawReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      this.failWaiting.push(reject);
    });
  }

  /** Writes bytes as they are (no line end added). */
  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Writes one command line (CRLF added) and returns its reply. */
  command(line: string): Promise<RawReply> {
    this.write(line + '\r\n');
    return this.reply();
  }

  /** Sends QUIT and closes. */
  async quit(): Promise<void> {
    if (!this.closed) {
      await this.command('QUIT').catch(() => undefined);
    }
    this.socket.destroy();
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }
}
