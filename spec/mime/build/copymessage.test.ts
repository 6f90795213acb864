/**
 * copymessage and the stream the smtp layer sends (createMessageStream,
 * messageSize, hasEightBit, getHeaderFields): the same bytes as
 * buildmessage, written with backpressure, never changing the part.
 */
import { rmSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import * as mime from '../../../mime';
import { fileBodyBytes } from '../../../mime/transmit';
import { bytesOf, crlfLines, headerPairs, parseMail, tempDir, trackedInit } from './support';

const dir = tempDir();
afterAll(() => dir.remove());
const init = trackedInit();

/** A slow writable that records how full it was at each write. */
class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];
  readonly fullness: number[] = [];

  constructor() {
    super({ highWaterMark: 1024 });
  }

  override write(chunk: unknown, ...rest: unknown[]): boolean {
    this.fullness.push(this.writableLength);
    return (super.write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.chunks.push(chunk);
    setImmediate(done);
  }
}

async function streamBytes(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sample(): mime.Token {
  const big = Buffer.from(Array.from({ length: 300000 }, (_, i) => (i * 31) & 0xff));
  const text = Array.from({ length: 3000 }, (_, i) => `line ${i} with ümlaut`).join('\n');
  return init({
    canonical: 'multipart/mixed',
    header: [['Subject', 'Sample'], ['Bcc', 'hidden@example.org']],
    parts: [
      init({ canonical: 'text/plain', string: text }),
      init({ canonical: 'application/octet-stream', file: dir.file('big.bin', big) }),
      init({ canonical: 'text/plain', file: dir.file('notes.txt', `${text}\n.\nFrom x`) }),
      init({ canonical: 'text/html', string: '<p>8 bit é</p>', encoding: '8bit' }),
    ],
  });
}

describe('copymessage', () => {
  it('writes the bytes of buildmessage, respecting backpressure, and leaves the stream open', async () => {
    const token = sample();
    const sink = new SlowSink();
    await mime.copymessage(token, sink);
    expect(Buffer.concat(sink.chunks).equals(bytesOf(token))).toBe(true);
    for (const fullness of sink.fullness) expect(fullness).toBeLessThan(1024);
    expect(sink.writableEnded).toBe(false);
    sink.end();
  });

  it('fails with EFILE when a file body disappeared, and with the stream\'s own error', async () => {
    const path = dir.file('gone.txt', 'soon gone');
    const token = init({ canonical: 'application/octet-stream', file: path });
    rmSync(path);
    await expect(mime.copymessage(token, new PassThrough())).rejects.toEqual(expect.objectContaining({ name: 'MimeError', code: 'EFILE' }));

    const broken = new Writable({
      highWaterMark: 16,
      write(_chunk, _encoding, done) {
        done(new Error('disk full'));
      },
    });
    broken.on('error', () => undefined);
    await expect(mime.copymessage(sample(), broken)).rejects.toThrow('disk full');
  });

  it('fails with the error of a later write to a stream that never asks to wait', async () => {
    const path = dir.file('long.bin', Buffer.alloc(1024 * 1024, 0x5a));
    const token = init({ canonical: 'application/octet-stream', file: path });
    let writes = 0;
    const roomy = new Writable({
      highWaterMark: 64 * 1024 * 1024,
      write(_chunk, _encoding, done) {
        writes++;
        if (writes === 3) done(new Error('disk full at the third write'));
        else setImmediate(done);
      },
    });
    roomy.on('error', () => undefined);
    await expect(mime.copymessage(token, roomy)).rejects.toThrow('disk full at the third write');
    // Noticed within a read or so of the failure, not after the 1 MiB file's 20 or so chunks.
    expect(writes).toBeGreaterThanOrEqual(3);
    expect(writes).toBeLessThan(10);
  });

  it('fails, and stops reading, when the stream is destroyed part way', async () => {
    const path = dir.file('destroyed.bin', Buffer.alloc(2 * 1024 * 1024, 0xa5));
    const token = init({ canonical: 'application/octet-stream', file: path });
    let writes = 0;
    const sink: Writable = new Writable({
      highWaterMark: 64 * 1024 * 1024,
      write(_chunk, _encoding, done) {
        writes++;
        if (writes === 2) sink.destroy();
        done();
      },
    });
    await expect(mime.copymessage(token, sink)).rejects.toEqual(expect.objectContaining({ name: 'MimeError' }));
    // Far fewer writes than the 2 MiB file's 40 or so chunks: the copy stopped at the destroy.
    expect(writes).toBeLessThan(5);
  });
});

describe('createMessageStream', () => {
  it('gives the bytes of buildmessage by default', async () => {
    const token = sample();
    expect((await streamBytes(mime.createMessageStream(token))).equals(bytesOf(token))).toBe(true);
  });

  it('adds extra fields and leaves out omitted ones at the top level only, without changing the part', async () => {
    const inner = init({ canonical: 'text/plain', string: 'inner', header: [['Bcc', 'inner@example.org']] });
    const token = init({ canonical: 'message/rfc822', parts: [inner], header: [['Subject', 'S'], ['bcc', 'top@example.org'], ['Dcc', 'd@example.org']] });
    const before = mime.buildmessage(token);
    const data = await streamBytes(mime.createMessageStream(token, {
      extraHeaders: [['Date', 'Tue, 29 Feb 2000 21:57:00 +0000'], ['Message-ID', '<1@example.org>']],
      omitHeaders: ['BCC', 'dcc'],
    }));
    const top = headerPairs(data).map(([name]) => name);
    expect(top).toEqual(['MIME-Version', 'Subject', 'Content-ID', 'Date', 'Message-ID', 'Content-Type']);
    expect(data.toString('latin1')).toContain('Bcc: inner@example.org');
    expect(mime.buildmessage(token)).toBe(before);
    expect(mime.getheader(token, 'bcc')).toEqual(['top@example.org']);
  });

  it('checks extra fields as setheader does, at once', () => {
    const token = init({ canonical: 'text/plain', string: 'x' });
    expect(() => mime.createMessageStream(token, { extraHeaders: [['Subject', 'a\r\nBcc: evil@x.org']] })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => mime.createMessageStream(token, { extraHeaders: [['Bad Name', 'x']] })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    expect(() => mime.createMessageStream(token, { extraHeaders: [['Content-Type', 'text/html']] })).toThrow(expect.objectContaining({ name: 'MimeError', code: 'EHEADER' }));
    expect(() => mime.checkMessageOptions(token, { extraHeaders: [['Subject', 'a\nb']] })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });

  it('checks an extra-fields array once, but again once its pairs have changed', async () => {
    const token = init({ canonical: 'text/plain', string: 'x' });
    const extra: Array<[string, string]> = [['Subject', 'first']];
    mime.checkMessageOptions(token, { extraHeaders: extra });
    expect((await streamBytes(mime.createMessageStream(token, { extraHeaders: extra }))).toString('latin1')).toContain('Subject: first\r\n');
    extra[0] = ['Subject', 'second'];
    expect((await streamBytes(mime.createMessageStream(token, { extraHeaders: extra }))).toString('latin1')).toContain('Subject: second\r\n');
    extra.push(['Bcc', 'a\r\nX-Evil: 1']);
    expect(() => mime.createMessageStream(token, { extraHeaders: extra })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
    extra[1][1] = 'b@example.org';
    expect((await streamBytes(mime.createMessageStream(token, { extraHeaders: extra }))).toString('latin1')).toContain('Bcc: b@example.org\r\n');
  });

  it('with sevenBit encodes 8bit and binary bodies again so that every octet is 7-bit, and the content reads the same', async () => {
    const html = init({ canonical: 'text/html', string: '<p>Grüße</p>', encoding: '8bit', header: [['Content-Disposition', 'attachment']] });
    const bin = init({ canonical: 'application/octet-stream', string: Buffer.from([0, 0xff, 0x0a]), encoding: 'binary' });
    const token = init({ canonical: 'multipart/mixed', parts: [html, bin] });
    expect(await mime.hasEightBit(token)).toBe(true);
    const data = await streamBytes(mime.createMessageStream(token, { sevenBit: true }));
    expect(data.every((byte) => byte < 0x80)).toBe(true);
    const parsed = await parseMail(data);
    expect(parsed.attachments.map((a) => a.content.toString('latin1'))).toEqual([Buffer.from('<p>Grüße</p>').toString('latin1'), '\x00\xff\x0a']);
    expect(mime.getproperty(html, 'encoding')).toBe('8bit');
  });

  it('with sevenBit re-encodes a parsed 8-bit part, replacing its Content-Transfer-Encoding field', async () => {
    const message = 'Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n';
    const token = init({ string: Buffer.from(message) });
    const data = await streamBytes(mime.createMessageStream(token, { sevenBit: true }));
    expect(data.every((byte) => byte < 0x80)).toBe(true);
    const pairs = headerPairs(data);
    expect(pairs.filter(([name]) => name.toLowerCase() === 'content-transfer-encoding')).toEqual([['Content-Transfer-Encoding', 'quoted-printable']]);
    expect((await parseMail(data)).text).toBe('Grüße aus Köln\n');
    expect(Buffer.from(mime.buildmessage(token), 'latin1').toString('utf8')).toBe(`MIME-Version: 1.0\r\n${message}`);
  });

  it('fails the stream with EFILE when a file is gone', async () => {
    const path = dir.file('vanish.bin', 'x');
    const token = init({ canonical: 'application/octet-stream', file: path });
    rmSync(path);
    await expect(streamBytes(mime.createMessageStream(token))).rejects.toEqual(expect.objectContaining({ code: 'EFILE' }));
  });
});

describe('messageSize', () => {
  it('is the exact length of the stream, with and without options', async () => {
    const token = sample();
    for (const options of [{}, { sevenBit: true }, { omitHeaders: ['bcc'], extraHeaders: [['X-Extra', 'éé']] as Array<[string, string]> }]) {
      const data = await streamBytes(mime.createMessageStream(token, options));
      expect(await mime.messageSize(token, options)).toBe(data.length);
    }
  });

  it('counts a base64 file body from the file size', async () => {
    for (const length of [0, 1, 2, 3, 56, 57, 58, 1000, 65537]) {
      const token = init({ canonical: 'application/octet-stream', file: dir.file(`n${length}.bin`, Buffer.alloc(length, 0xee)) });
      expect(await mime.messageSize(token)).toBe(bytesOf(token).length);
    }
  });
});

describe('hasEightBit', () => {
  it('is false for an ordinary message, whose 8-bit text is encoded', async () => {
    expect(await mime.hasEightBit(init({ canonical: 'text/plain', string: 'Grüße', header: [['Subject', 'Ünïcödé']] }))).toBe(false);
  });

  it('is true for an 8bit body, and for an address written in UTF-8', async () => {
    expect(await mime.hasEightBit(init({ canonical: 'text/plain', string: 'é', encoding: '8bit' }))).toBe(true);
    expect(await mime.hasEightBit(init({ canonical: 'text/plain', string: 'x', header: [['To', 'jörg@example.org']] }))).toBe(true);
    expect(await mime.hasEightBit(init({ canonical: 'text/plain', string: 'x' }), { extraHeaders: [['Cc', 'zoë@example.org']] })).toBe(true);
  });
});

describe('getHeaderFields', () => {
  it('gives the top-level stored fields in order, as stored', () => {
    const token = init({ canonical: 'text/plain', string: 'x', header: [['From', 'a@example.org'], ['To', 'b@example.org'], ['to', 'c@example.org']] });
    expect(mime.getHeaderFields(token).map(({ name, value }) => `${name}: ${value}`).slice(0, 3)).toEqual([
      'From: a@example.org',
      'To: b@example.org',
      'to: c@example.org',
    ]);
    expect(mime.getHeaderFields(token)[3].name).toBe('Content-ID');
  });

  it('reads the fields of a parsed message', () => {
    const token = init({ string: 'From: a@example.org\r\nSubject: =?utf-8?q?x?=\r\nContent-Type: text/plain\r\n\r\nbody' });
    expect(mime.getHeaderFields(token)).toEqual([{ name: 'From', value: 'a@example.org' }, { name: 'Subject', value: '=?utf-8?q?x?=' }]);
  });
});

describe('every line of the output', () => {
  it('ends in CRLF and is at most 998 octets', async () => {
    const data = await streamBytes(mime.createMessageStream(sample()));
    for (const line of crlfLines(data)) expect(line.length).toBeLessThanOrEqual(998);
  });
});

describe('hasEightBit with sevenBit', () => {
  it('is false once the bodies are re-encoded, unless header text itself is 8-bit', async () => {
    const body = init({ canonical: 'text/plain', string: 'é', encoding: '8bit' });
    expect(await mime.hasEightBit(body, { sevenBit: true })).toBe(false);
    const address = init({ canonical: 'text/plain', string: 'é', encoding: '8bit', header: [['To', 'jörg@example.org']] });
    expect(await mime.hasEightBit(address, { sevenBit: true })).toBe(true);
  });
});

describe('fileBodyBytes', () => {
  it('adds up the files of every part, and the regions of a parsed file', async () => {
    const a = dir.file('sizes-a.bin', Buffer.alloc(1000, 1));
    const b = dir.file('sizes-b.txt', 'x'.repeat(234));
    const inner = init({ canonical: 'multipart/alternative', parts: [init({ canonical: 'text/plain', file: b })] });
    const token = init({
      canonical: 'multipart/mixed',
      parts: [init({ canonical: 'text/plain', string: 'not a file' }), init({ canonical: 'application/octet-stream', file: a }), inner],
    });
    expect(await fileBodyBytes(token)).toBe(1234);

    const eml = dir.file('sizes.eml', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n12345\r\n--b\r\n\r\nabc\r\n--b--\r\n');
    expect(await fileBodyBytes(init({ file: eml }))).toBe(8);
  });

  it('counts nothing for string bodies, a file that is gone, or a released token', async () => {
    expect(await fileBodyBytes(init({ canonical: 'text/plain', string: 'x'.repeat(100000) }))).toBe(0);
    const gone = dir.file('sizes-gone.bin', Buffer.alloc(5000));
    const token = mime.initialize({ canonical: 'application/octet-stream', file: gone });
    rmSync(gone);
    expect(await fileBodyBytes(token)).toBe(0);
    mime.finalize(token);
    expect(await fileBodyBytes(token)).toBe(0);
  });
});
