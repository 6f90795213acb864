/**
 * Bodies against SMTP smuggling and dot-stuffing bugs (docs/security.md, A7, A8):
 * bare CR, bare LF and every dot / line-end combination, cut at every chunk
 * boundary, sent over a real socket. For each message the wire carries only
 * CRLF line ends, no line of the body is a lone dot, and the server reads
 * exactly one message whose body is the input with its line ends made CRLF.
 *
 * Two ways in: a raw stream given to `session.sendmail` in chunks of 1..N
 * bytes (the transport's own normalization), and a file body given to
 * `mime.initialize` with `encoding: '7bit'` or `'8bit'`, sent by
 * `smtp.sendmessage`, with the interesting bytes placed across the 64 KiB
 * boundary at which the file is read.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import * as mime from '../../mime';
import { sendmessage } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import type { Session } from '../../smtp/protocol/types';
import { type ReceivedMessage, scriptedServer, type ScriptedServer } from '../support/scripted-server';

/** What a transport must make of a body: every CR, LF and CRLF becomes CRLF, and the last line is ended. */
function onTheWire(input: Buffer): Buffer {
  const text = input.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(text === '' || text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1');
}

/** The bytes after the 354 hold only CRLF line ends, no lone-dot line before the end, and end with the end of data. */
function expectCleanWire(message: ReceivedMessage): void {
  const raw = message.raw.toString('latin1');
  expect(raw.endsWith('.\r\n')).toBe(true);
  expect(raw === '.\r\n' || raw.endsWith('\r\n.\r\n')).toBe(true);
  expect(/\r(?!\n)/.test(raw)).toBe(false); // no bare CR
  expect(/(^|[^\r])\n/.test(raw)).toBe(false); // no bare LF
  const lines = raw.slice(0, -3).split('\r\n');
  expect(lines.filter((line) => line === '.')).toEqual([]);
}

/** Splits `bytes` into chunks whose sizes cycle through `sizes`. */
function chunked(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]);
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** A stream that hands over the chunks one by one, as they are (object mode: no merging of buffered bytes). */
function stream(chunks: Buffer[]): Readable & { reads: number[] } {
  const reads: number[] = [];
  const readable = Readable.from(
    (function* () {
      for (const chunk of chunks) {
        reads.push(chunk.length);
        yield chunk;
      }
    })(),
  );
  return Object.assign(readable, { reads });
}

describe('a raw stream through session.sendmail, cut into chunks of 1..N bytes', () => {
  let srv: ScriptedServer;
  let session: Session;
  let sent = 0;

  beforeAll(async () => {
    srv = await scriptedServer();
    session = await connect({ server: '127.0.0.1', port: srv.port });
  });

  afterAll(async () => {
    await session.quit();
    await srv.close();
  });

  async function sendAndCheck(input: Buffer, sizes: number[]): Promise<void> {
    const chunks = chunked(input, sizes);
    const source = stream(chunks);
    await session.sendmail('a@x.org', ['b@y.org'], source);
    expect(source.reads).toEqual(chunks.map((c) => c.length));
    sent++;
    // Exactly one more message, read to its own end: nothing in the body ended it early or started another.
    expect(srv.received).toHaveLength(sent);
    const message = srv.received[sent - 1];
    expectCleanWire(message);
    expect(message.data.toString('latin1')).toBe(onTheWire(input).toString('latin1'));
  }

  it('every body of up to 4 bytes over x . CR LF, one byte per chunk and in chunks of 2, 3 and 4', async () => {
    const alphabet = ['x', '.', '\r', '\n'];
    let bodies = [''];
    const all: string[] = [];
    for (let length = 1; length <= 4; length++) {
      bodies = bodies.flatMap((body) => alphabet.map((c) => body + c));
      all.push(...bodies);
    }
    expect(all).toHaveLength(4 + 16 + 64 + 256);
    for (const [i, body] of all.entries()) await sendAndCheck(Buffer.from(body, 'latin1'), [1 + (i % 4)]);
    // Every command line of the dialogue ended in CRLF too.
    expect(srv.conns[0].bareLineFeeds).toEqual([]);
    expect(srv.conns).toHaveLength(1);
  });

  it('the SMTP smuggling sequences, each cut at every byte', async () => {
    const attacks = [
      'Subject: a\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@x.org>\r\n', // <LF>.<CR><LF>
      'Subject: a\r\n\r\nfirst\r\n.\nRCPT TO:<evil@x.org>\r\n', // <CR><LF>.<LF>
      'Subject: a\r\n\r\nfirst\r.\rDATA\r\n', // <CR>.<CR>
      'Subject: a\r\n\r\nfirst\n.\nQUIT\n', // <LF>.<LF>
      'Subject: a\r\n\r\nfirst\r\n.\r\nQUIT\r\n', // a real end of data inside the body
      '.\r\n', // a message that is only a dot line
      '..\r\n...\r\n.', // lines of dots, the last one unended
    ];
    for (const attack of attacks) {
      const bytes = Buffer.from(attack, 'latin1');
      for (let cut = 1; cut < bytes.length; cut++) await sendAndCheck(bytes, [cut, bytes.length]);
    }
    // No command was read out of a body.
    const commands = srv.transcript[0].filter((line) => !/^(EHLO|MAIL FROM:<a@x\.org>|RCPT TO:<b@y\.org>|DATA|\.)/.test(line));
    expect(commands).toEqual([]);
  });

  it('random bodies heavy in dots, CR, LF and 8-bit bytes, cut at random points', async () => {
    const byte = fc.constantFrom(...'x. \r\n\r\n.\u00e9\t'.split(''));
    await fc.assert(
      fc.asyncProperty(fc.array(byte, { maxLength: 80 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), async (chars, sizes) => {
        await sendAndCheck(Buffer.from(chars.join(''), 'latin1'), sizes);
      }),
      { numRuns: 150 },
    );
  });
});

describe('a file body through mime.initialize and sendmessage, across the 64 KiB read boundary', () => {
  const READ = 64 * 1024;
  let srv: ScriptedServer;
  let tmp: string;

  beforeAll(async () => {
    srv = await scriptedServer();
    tmp = mkdtempSync(join(tmpdir(), 'tclmail-bodies-'));
  });

  afterAll(async () => {
    await srv.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The text of a canonical text/plain body: bare LF becomes CRLF, a bare CR stays (then it is quoted-printable). */
  function canonical(input: string): string {
    return input.replace(/\r?\n/g, '\r\n');
  }

  /** Undoes the transfer encoding of a received leaf, written here so the check does not lean on the code it checks. */
  function decodeBody(message: ReceivedMessage): string {
    const text = message.data.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    const header = text.slice(0, split);
    const body = text.slice(split + 4);
    if (!/^Content-Transfer-Encoding: quoted-printable$/im.test(header)) return body;
    return body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }

  const patterns = [
    '.\r\n', // a dot line in CRLF
    '\n.\n', // a dot line in LF
    '\n.\r\n', // the smuggling <LF>.<CR><LF>
    '\r\n.\r\nQUIT\r\n', // an end of data and a command
    '..\r\n', // a line that starts with two dots
    'a\rb', // a bare CR inside a line
    'c\r\r\n', // CR CR LF
    '\r.\r', // a dot between bare CRs
  ];

  it.each(['7bit', '8bit'])('encoding %s: each pattern with the read boundary before, inside and after it', async (encoding) => {
    // Short lines before the pattern, so the part stays within line limits and the boundary falls where asked.
    const pad = (length: number): string => {
      const line = `${'p'.repeat(62)}\r\n`;
      const whole = line.repeat(Math.floor(length / line.length));
      const rest = length - whole.length;
      return whole + (rest >= 2 ? `${'q'.repeat(rest - 2)}\r\n` : 'r'.repeat(rest));
    };
    let count = srv.received.length;
    for (const [p, pattern] of patterns.entries()) {
      for (let inside = 0; inside <= pattern.length; inside++) {
        const content = `${pad(READ - inside)}${pattern}tail ${p}.${inside}\r\n`;
        const file = join(tmp, `body-${encoding}-${p}-${inside}.txt`);
        writeFileSync(file, content, 'latin1');
        const tok = mime.initialize({ canonical: 'text/plain', encoding, file });
        try {
          await expect(
            sendmessage(tok, { servers: ['127.0.0.1'], ports: [srv.port], header: [['From', 'a@x.org'], ['To', 'b@y.org']] }),
          ).resolves.toEqual([]);
        } finally {
          mime.finalize(tok);
        }
        count++;
        expect(srv.received).toHaveLength(count);
        const message = srv.received[count - 1];
        expectCleanWire(message);
        expect(decodeBody(message)).toBe(canonical(content));
      }
    }
    expect(srv.conns.every((c) => c.bareLineFeeds.length === 0)).toBe(true);
  });
});
