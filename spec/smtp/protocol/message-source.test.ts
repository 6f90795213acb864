/**
 * prepareMessage reads a small mime token once and takes its size and 8-bit
 * test from those bytes; a larger one is streamed as before. Either way the
 * facts it reports must be the ones the streaming path reports, and the bytes
 * it sends the token's own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mime } from '../../../index';
import { createMessageStream, hasEightBit, messageSize, type Token } from '../../../mime';
import { open, type FileHandle } from 'node:fs/promises';
import { DataCodec } from '../../../lib/stream';
/** What goes on the wire after DATA's 354 for `message`: the codec's output and the end of data. */
function encodeData(message: Buffer | string): Buffer {
  const codec = new DataCodec();
  return Buffer.concat([codec.encode(typeof message === 'string' ? Buffer.from(message) : message), codec.end()]);
}

import { prepareMessage } from '../../../smtp/protocol/message-source';

async function collect(source: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  return Buffer.concat(chunks);
}

const changes = { extraHeaders: [['From', 'a@example.org'] as [string, string], ['Subject', 'size test'] as [string, string]], omitHeaders: ['Bcc'] };

describe('smtp/source: prepareMessage for mime tokens', () => {
  let dir: string;
  const tokens: Token[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tclmail-source-'));
  });
  afterAll(() => {
    for (const tok of tokens) mime.finalize(tok, { subordinates: 'all' });
    rmSync(dir, { recursive: true, force: true });
  });

  function track(tok: Token): Token {
    tokens.push(tok);
    return tok;
  }

  const cases: Array<[string, () => Token]> = [
    ['a short text part', () => track(mime.initialize({ canonical: 'text/plain', string: 'hello\r\n.leading dot\r\n' }))],
    ['a short 8-bit part', () => track(mime.initialize({ canonical: 'text/plain', encoding: '8bit', string: 'grüße\r\n' }))],
    ['a text part above the in-memory limit', () => track(mime.initialize({ canonical: 'text/plain', string: 'x'.repeat(70) + '\r\n'.repeat(1) + 'line of text\r\n'.repeat(8000) }))],
    [
      'a multipart with a file attachment above the limit',
      () => {
        const file = join(dir, 'data.bin');
        writeFileSync(file, Buffer.alloc(200 * 1024, 0xab));
        const text = mime.initialize({ canonical: 'text/plain', string: 'attached\r\n' });
        const data = mime.initialize({ canonical: 'application/octet-stream', encoding: 'base64', file });
        return track(mime.initialize({ canonical: 'multipart/mixed', parts: [text, data] }));
      },
    ],
    [
      'a multipart with a random attachment over several file reads',
      () => {
        const file = join(dir, 'random.bin');
        writeFileSync(file, randomBytes(900 * 1024 + 7));
        const text = mime.initialize({ canonical: 'text/plain', string: 'attached\r\n' });
        const data = mime.initialize({ canonical: 'application/octet-stream', encoding: 'base64', file });
        return track(mime.initialize({ canonical: 'multipart/mixed', parts: [text, data] }));
      },
    ],
  ];

  it.each(cases)('reports the size and 8-bit flag of the bytes it sends: %s', async (_name, make) => {
    const tok = make();
    for (const sevenBit of [false, true]) {
      const opts = { ...changes, sevenBit };
      const prepared = await prepareMessage(tok, { sevenBit, changes });
      const sent = await collect(prepared.open());
      const streamed = await collect(createMessageStream(tok, opts));
      expect(sent.equals(streamed)).toBe(true);
      // SIZE never under-states (the codec may add a CRLF after a last line without one).
      expect(prepared.size).toBe((await messageSize(tok, opts)) + 2);
      expect(prepared.eightBit).toBe(sevenBit ? false : await hasEightBit(tok, opts));
      // The bytes can be read again (DKIM signs them, then sends them).
      expect((await collect(prepared.open())).equals(sent)).toBe(true);
    }
  });

  it('says that an 8-bit part is 8-bit unless asked for 7 bits', async () => {
    const tok = track(mime.initialize({ canonical: 'text/plain', encoding: '8bit', string: 'café\r\n' }));
    expect((await prepareMessage(tok, { sevenBit: false })).eightBit).toBe(true);
    const seven = await prepareMessage(tok, { sevenBit: true });
    expect(seven.eightBit).toBe(false);
    expect((await collect(seven.open())).some((b) => b > 0x7f)).toBe(false);
  });

  it('reports a file that vanished as the streaming path does, when it is read', async () => {
    const file = join(dir, 'gone.txt');
    writeFileSync(file, 'soon gone\r\n');
    const tok = track(mime.initialize({ canonical: 'text/plain', encoding: '7bit', file }));
    rmSync(file);
    await expect(
      (async () => {
        const prepared = await prepareMessage(tok, { sevenBit: false });
        await collect(prepared.open());
      })(),
    ).rejects.toThrow(/gone\.txt/);
  });

  it('sends through the DATA codec what encodeData makes of the message: base64 chunks pass as they are', async () => {
    const file = join(dir, 'codec.bin');
    writeFileSync(file, randomBytes(600 * 1024 + 1));
    const text = mime.initialize({ canonical: 'text/plain', string: '.a line with a leading dot\r\nbare LF\n' });
    const data = mime.initialize({ canonical: 'application/octet-stream', encoding: 'base64', file });
    const tok = track(mime.initialize({ canonical: 'multipart/mixed', parts: [text, data] }));
    const prepared = await prepareMessage(tok, { sevenBit: false });
    const codec = new DataCodec();
    const wire: Buffer[] = [];
    let untouched = 0;
    for await (const chunk of prepared.open()) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const out = codec.encode(bytes);
      if (out === bytes) untouched++;
      wire.push(out);
    }
    wire.push(codec.end());
    expect(Buffer.concat(wire).equals(encodeData(await collect(createMessageStream(tok))))).toBe(true);
    // The attachment's chunks (600 KiB of base64 in chunks of 87 KiB) are handed on without a copy.
    expect(untouched).toBeGreaterThanOrEqual(9);
  });

  it('decides from the file sizes that a token with a large file is streamed, reading nothing before it is sent', async () => {
    const file = join(dir, 'large.bin');
    writeFileSync(file, randomBytes(300 * 1024));
    const text = mime.initialize({ canonical: 'text/plain', string: 'attached\r\n' });
    const data = mime.initialize({ canonical: 'application/octet-stream', encoding: 'base64', file });
    const tok = track(mime.initialize({ canonical: 'multipart/mixed', parts: [text, data] }));
    const probe = await open(__filename, 'r');
    await probe.close();
    const reads = jest.spyOn(Object.getPrototypeOf(probe) as FileHandle, 'read');
    let prepared: Awaited<ReturnType<typeof prepareMessage>>;
    try {
      prepared = await prepareMessage(tok, { sevenBit: false, changes });
      expect(reads).not.toHaveBeenCalled();
      expect(prepared.size).toBe((await messageSize(tok, { ...changes, sevenBit: false })) + 2);
      expect((await collect(prepared.open())).equals(await collect(createMessageStream(tok, { ...changes, sevenBit: false })))).toBe(true);
      expect(reads).toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });
});
