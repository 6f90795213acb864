/**
 * A minimal SMTP sink for the benchmark, used when Postfix's smtp-sink is not
 * installed, and always for R1 (smtp-sink's -W delay is in whole seconds and
 * delays pipelined replies one after another, which is not network latency).
 * It answers as fast as it can, offers PIPELINING, 8BITMIME and SIZE, throws
 * the messages away and counts them.
 *
 * With a delay, every reply leaves `delayMs` after the command it answers
 * arrived: a round trip of `delayMs`, as over a slow network. Replies to
 * commands that came in one segment leave together, so the number of turns
 * the client needs shows in the elapsed time, and is also counted here.
 *
 * Run as a child process: `node sink.js [delayMs]` prints `{"port": N}` and,
 * when spawned with IPC, answers the message 'stats' with its counters.
 */
import * as net from 'node:net';

const CRLF = Buffer.from('\r\n');
const END_OF_DATA = Buffer.from('\r\n.\r\n');
/** The longest command line taken; a longer one is refused and the client dropped. */
const MAX_COMMAND = 4096;
/** The SIZE limit announced (200 MB: room for M1-sized messages). */
const SIZE_LIMIT = 200 * 1024 * 1024;

export interface SinkStats {
  connections: number;
  messages: number;
  recipients: number;
  /** Bytes of message data, dot-stuffing and terminator included. */
  dataBytes: number;
  /** Times the sink answered and then waited for the client, per connection, greeting and QUIT excluded. */
  turns: number[];
}

/** One client's session with the sink. */
class SinkSession {
  private pending = '';
  private carry: Buffer = Buffer.alloc(0);
  private inData = false;
  // The last bytes of data seen, so a terminator split across segments is found.
  private tail: Buffer = CRLF;
  private turns = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly stats: SinkStats,
    private readonly delayMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.stats.turns.push(this.turns));
    this.reply('220 bench-sink ESMTP\r\n');
    this.flush(false);
  }

  private reply(text: string): void {
    this.pending += text;
  }

  private flush(turn = true): void {
    if (this.pending === '') return;
    const out = this.pending;
    this.pending = '';
    if (turn) this.turns++;
    if (this.delayMs > 0) setTimeout(() => this.write(out), this.delayMs);
    else this.write(out);
  }

  private write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  private take(chunk: Buffer): void {
    let data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.inData) {
        data = this.takeData(data);
        continue;
      }
      const eol = data.indexOf(CRLF);
      if (eol < 0) {
        if (data.length > MAX_COMMAND) {
          this.socket.destroy();
          return;
        }
        this.carry = Buffer.from(data);
        break;
      }
      const line = data.toString('latin1', 0, eol);
      data = data.subarray(eol + 2);
      const answered = this.pending !== '';
      if (this.command(line) === 'quit') {
        // QUIT's own turn is not counted (R1 counts the round trips of the transaction), but a QUIT that came
        // with the end of data shares that turn, which is.
        this.flush(answered);
        const close = (): void => {
          this.socket.end();
        };
        if (this.delayMs > 0) setTimeout(close, this.delayMs + 1);
        else close();
        return;
      }
    }
    this.flush();
  }

  /** Message bytes until CRLF.CRLF; returns what follows the terminator (pipelined commands). */
  private takeData(data: Buffer): Buffer {
    // A terminator that starts in the bytes kept from before comes first; else look in this segment alone.
    const window = Buffer.concat([this.tail, data.subarray(0, END_OF_DATA.length - 1)]);
    const early = window.indexOf(END_OF_DATA);
    const at = early >= 0 ? early - this.tail.length : data.indexOf(END_OF_DATA);
    if (early < 0 && at < 0) {
      this.stats.dataBytes += data.length;
      this.tail = data.length >= 4 ? Buffer.from(data.subarray(data.length - 4)) : Buffer.from(window.subarray(Math.max(0, window.length - 4)));
      return Buffer.alloc(0);
    }
    const consumed = at + END_OF_DATA.length;
    this.stats.dataBytes += consumed;
    this.stats.messages++;
    this.inData = false;
    this.tail = CRLF;
    this.reply('250 2.0.0 Ok: queued\r\n');
    return data.subarray(consumed);
  }

  private command(line: string): 'quit' | void {
    const verb = line.slice(0, 4).toUpperCase();
    switch (verb) {
      case 'EHLO':
        this.reply(
          '250-bench-sink\r\n250-PIPELINING\r\n' +
            `250-SIZE ${SIZE_LIMIT}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n`,
        );
        return;
      case 'HELO':
        this.reply('250 bench-sink\r\n');
        return;
      case 'MAIL':
        this.reply('250 2.1.0 Ok\r\n');
        return;
      case 'RCPT':
        this.stats.recipients++;
        this.reply('250 2.1.5 Ok\r\n');
        return;
      case 'DATA':
        this.inData = true;
        this.tail = CRLF;
        this.reply('354 End data with <CR><LF>.<CR><LF>\r\n');
        return;
      case 'RSET':
        this.reply('250 2.0.0 Ok\r\n');
        return;
      case 'NOOP':
        this.reply('250 2.0.0 Ok\r\n');
        return;
      case 'QUIT':
        this.reply('221 2.0.0 Bye\r\n');
        return 'quit';
      default:
        this.reply('502 5.5.2 Error: command not recognized\r\n');
    }
  }
}

/** A listening sink on 127.0.0.1, ephemeral port. */
export async function startSink(delayMs = 0): Promise<{ server: net.Server; port: number; stats: SinkStats }> {
  const stats: SinkStats = { connections: 0, messages: 0, recipients: 0, dataBytes: 0, turns: [] };
  const server = net.createServer((socket) => {
    stats.connections++;
    new SinkSession(socket, stats, delayMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 511 }, () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port, stats };
}

if (require.main === module) {
  const delayMs = Number(process.argv[2] ?? 0);
  void startSink(Number.isFinite(delayMs) ? delayMs : 0).then(({ server, port, stats }) => {
    process.on('message', (message) => {
      if (message === 'stats') process.send?.({ stats });
      else if (message === 'reset') {
        stats.connections = stats.messages = stats.recipients = stats.dataBytes = 0;
        stats.turns = [];
        process.send?.({ reset: true });
      }
    });
    const stop = (): void => {
      server.close();
      process.exit(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
}
