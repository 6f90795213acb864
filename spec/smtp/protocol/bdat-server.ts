/**
 * A small raw SMTP server that speaks CHUNKING (RFC 3030), for the tests of
 * BDAT: neither smtp-server nor the scripted server reads BDAT. It records
 * every command line, the chunk sizes, and each message as the server reads
 * it, whether it came with DATA (dot-stuffing undone) or with BDAT (octets as
 * counted), so the two ways can be compared byte for byte.
 */
import * as net from 'node:net';

export interface BdatMessage {
  via: 'DATA' | 'BDAT';
  mailFrom: string;
  mailParams: string[];
  rcptTo: string[];
  /** The message as the server reads it. */
  data: Buffer;
  /** BDAT chunk sizes in order (the LAST one included). */
  chunks: number[];
}

export interface BdatServerOptions {
  /** EHLO keywords after the first line. Default CHUNKING, BINARYMIME, 8BITMIME, PIPELINING, ENHANCEDSTATUSCODES, SMTPUTF8. */
  keywords?: string[];
  /** A reply for BDAT chunk `index` of a message (0-based), instead of 250; `'drop'` closes the connection without a reply. */
  bdatReply?: (index: number, last: boolean) => string | 'drop' | undefined;
}

export interface BdatServer {
  readonly port: number;
  /** Every command line per connection (chunk octets excluded). */
  readonly transcript: string[][];
  readonly messages: BdatMessage[];
  close(): Promise<void>;
}

const DEFAULT_KEYWORDS = ['CHUNKING', 'BINARYMIME', '8BITMIME', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'SMTPUTF8'];

function unstuff(lines: Buffer): Buffer {
  const text = lines.toString('latin1');
  return Buffer.from(text.replace(/(^|\r\n)\./g, '$1'), 'latin1');
}

export async function bdatServer(options: BdatServerOptions = {}): Promise<BdatServer> {
  const keywords = options.keywords ?? DEFAULT_KEYWORDS;
  const transcript: string[][] = [];
  const messages: BdatMessage[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const lines: string[] = [];
    transcript.push(lines);
    let buf = Buffer.alloc(0);
    let mode: 'command' | 'data' | 'bdat' = 'command';
    let need = 0;
    let last = false;
    let envelope = { mailFrom: '', mailParams: [] as string[], rcptTo: [] as string[] };
    let chunks: Buffer[] = [];
    let sizes: number[] = [];
    const reply = (line: string): void => {
      if (!socket.destroyed) socket.write(line + '\r\n');
    };
    const reset = (): void => {
      envelope = { mailFrom: '', mailParams: [], rcptTo: [] };
      chunks = [];
      sizes = [];
    };
    const pathOf = (line: string): { address: string; params: string[] } => {
      const match = /^[A-Z ]+:\s*<([^>]*)>\s*(.*)$/i.exec(line);
      return { address: match?.[1] ?? '', params: (match?.[2] ?? '').split(' ').filter(Boolean) };
    };

    const command = (line: string): void => {
      lines.push(line);
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') {
        reply('250-bdat.test');
        keywords.forEach((keyword, i) => reply(`250${i === keywords.length - 1 ? ' ' : '-'}${keyword}`));
        if (keywords.length === 0) reply('250 bdat.test');
        reset();
      } else if (verb === 'MAIL') {
        const { address, params } = pathOf(line);
        envelope.mailFrom = address;
        envelope.mailParams = params;
        reply('250 2.1.0 ok');
      } else if (verb === 'RCPT') {
        envelope.rcptTo.push(pathOf(line).address);
        reply('250 2.1.5 ok');
      } else if (verb === 'DATA') {
        mode = 'data';
        reply('354 go ahead');
      } else if (verb === 'BDAT') {
        const [, size, flag] = line.split(' ');
        need = Number(size);
        last = (flag ?? '').toUpperCase() === 'LAST';
        sizes.push(need);
        mode = 'bdat';
      } else if (verb === 'RSET') {
        reset();
        reply('250 2.0.0 reset');
      } else if (verb === 'QUIT') {
        reply('221 2.0.0 bye');
        socket.end();
      } else reply('250 2.0.0 ok');
    };

    reply('220 bdat.test ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (mode === 'command') {
          const lf = buf.indexOf('\r\n');
          if (lf < 0) return;
          const line = buf.subarray(0, lf).toString('utf8');
          buf = buf.subarray(lf + 2);
          command(line);
        } else if (mode === 'data') {
          const at = buf.subarray(0, 3).equals(Buffer.from('.\r\n')) ? -2 : buf.indexOf('\r\n.\r\n');
          if (at === -1) return;
          const body = at === -2 ? Buffer.alloc(0) : buf.subarray(0, at + 2);
          buf = buf.subarray(at === -2 ? 3 : at + 5);
          lines.push('.');
          messages.push({ via: 'DATA', ...envelope, data: unstuff(body), chunks: [] });
          reset();
          mode = 'command';
          reply('250 2.0.0 queued');
        } else {
          if (buf.length < need) return;
          chunks.push(buf.subarray(0, need));
          buf = buf.subarray(need);
          mode = 'command';
          const index = sizes.length - 1;
          const answer = options.bdatReply?.(index, last);
          if (answer === 'drop') {
            socket.destroy();
            return;
          }
          if (answer !== undefined) {
            reply(answer);
            if (!answer.startsWith('2')) reset();
            continue;
          }
          if (last) {
            messages.push({ via: 'BDAT', ...envelope, data: Buffer.concat(chunks), chunks: sizes });
            reset();
            reply('250 2.0.0 queued');
          } else reply(`250 2.0.0 ${need} octets received`);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    transcript,
    messages,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
