/**
 * File bodies are read ahead: READ octets at a time, handed to the encoders
 * in CHUNK slices, the next read under way while the slices of the last one
 * are encoded (from the second chunk the consumer asks for), and (for
 * encoders that copy) two Buffers taking turns. The bytes must come out as the file holds them at
 * every size around those boundaries; a failed read, the awaited one or the
 * one ahead, fails the copy and closes the file, and is never left
 * unobserved; a file that changes while it is read gives the bytes that were
 * read.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readlinkSync, truncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import * as mime from '../../../mime';
import { CHUNK, READ } from '../../../mime/build/writer';
import { bytesOf, parseMail, tempDir, trackedInit } from './support';

const dir = tempDir();
afterAll(() => dir.remove());
const init = trackedInit();

/** What the base64 encoder must write: lines of 76 characters joined by CRLF, none after the last. */
function base64Lines(data: Buffer): Buffer {
  return Buffer.from((data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n'), 'latin1');
}

/** The body of a single-part message: everything after the first empty line. */
function bodyOf(message: Buffer): Buffer {
  const at = message.indexOf('\r\n\r\n');
  if (at < 0) throw new Error('no empty line after the header');
  return message.subarray(at + 4);
}

/** A writable that keeps what it gets; each write completes on a later turn, so the copy runs ahead of it. */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];

  private bodyStarted = false;

  /** `onBody` runs at the first chunk of body bytes (header chunks are short). */
  constructor(private readonly onBody?: () => void) {
    super({ highWaterMark: 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    if (!this.bodyStarted && chunk.length > 1000) {
      this.bodyStarted = true;
      this.onBody?.();
    }
    this.chunks.push(chunk);
    setImmediate(done);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

async function copied(token: mime.Token, onBody?: () => void): Promise<Buffer> {
  const sink = new Collector(onBody);
  await mime.copymessage(token, sink);
  return sink.bytes;
}

/** Descriptors of this process open on `path` (Linux), or null where /proc is not there to ask. */
function openOn(path: string): number | null {
  if (!existsSync('/proc/self/fd')) return null;
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
}

async function fileHandlePrototype(): Promise<FileHandle> {
  const handle = await open(__filename, 'r');
  await handle.close();
  return Object.getPrototypeOf(handle) as FileHandle;
}

/** Makes the `failing`-th file read of this process (from now) reject, as a disk error would; 0 only counts the reads. */
async function failRead(failing: number): Promise<{ reads: () => number; sizes: number[]; restore: () => void }> {
  const proto = await fileHandlePrototype();
  const original = proto.read;
  let calls = 0;
  const sizes: number[] = [];
  const spy = jest.spyOn(proto, 'read').mockImplementation(function (this: FileHandle, ...args: unknown[]) {
    calls++;
    sizes.push(args[2] as number);
    if (calls === failing) return Promise.reject(Object.assign(new Error('simulated I/O error'), { code: 'EIO' }));
    return (original as (...a: unknown[]) => ReturnType<FileHandle['read']>).apply(this, args);
  });
  return { reads: () => calls, sizes, restore: () => spy.mockRestore() };
}

/** Records unhandled rejections while `run` runs and for a few turns after. */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await run();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

const SIZES = [0, 1, 2, 3, 56, 57, 58, CHUNK - 1, CHUNK, CHUNK + 1, READ - 1, READ, READ + 1, 2 * READ + CHUNK + 2];

describe('mime: file bodies read ahead', () => {
  it('reads in units that suit base64 (whole 57-octet lines) and keep its text a young string', () => {
    expect(CHUNK % 57).toBe(0);
    expect(READ % CHUNK).toBe(0);
    // Node's base64 of a chunk must stay under V8's 128 KiB limit for objects in the young generation.
    expect(Math.ceil(CHUNK / 3) * 4).toBeLessThan(128 * 1024);
  });

  it.each(SIZES)('gives the file bytes at %i octets, as base64 (Buffers reused) and as they are (fresh Buffers)', async (size) => {
    const data = randomBytes(size);
    const path = dir.file(`data-${size}.bin`, data);
    const encoded = init({ canonical: 'application/octet-stream', encoding: 'base64', file: path });
    const raw = init({ canonical: 'application/octet-stream', encoding: 'binary', file: path });
    const viaCopy = await copied(encoded);
    expect(bodyOf(viaCopy).equals(base64Lines(data))).toBe(true);
    expect(viaCopy.equals(bytesOf(encoded))).toBe(true);
    expect(await mime.messageSize(encoded)).toBe(viaCopy.length);
    expect(bodyOf(await copied(raw)).equals(data)).toBe(true);
  });

  it('scans every read of a text file: an 8-bit octet past the second read still makes it quoted-printable', async () => {
    const line = 'a plain line of text, short enough to go out as it is\n';
    const text = line.repeat(Math.ceil((2 * READ + CHUNK) / line.length)) + 'and the last one: caf\xe9\n';
    const path = dir.file('late-8bit.txt', Buffer.from(text, 'latin1'));
    const token = init({ canonical: 'text/plain', param: [['charset', 'iso-8859-1']], file: path });
    const out = await copied(token);
    expect(out.toString('latin1')).toMatch(/Content-Transfer-Encoding: quoted-printable/i);
    expect(out.equals(bytesOf(token))).toBe(true);
    expect(await mime.messageSize(token)).toBe(out.length);
    expect(await mime.hasEightBit(token)).toBe(false);
    expect((await parseMail(out)).text).toBe(text);
  });

  it('reads the regions of a parsed file (offsets and lengths) across several reads', async () => {
    const data = randomBytes(2 * READ + 1234);
    const message = Buffer.concat([
      Buffer.from('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b\r\n', 'latin1'),
      Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n', 'latin1'),
      base64Lines(data),
      Buffer.from('\r\n--b--\r\n', 'latin1'),
    ]);
    const token = init({ file: dir.file('parsed.eml', message) });
    const out = await copied(token);
    expect(out.equals(bytesOf(token))).toBe(true);
    const parsed = await parseMail(out);
    expect(parsed.attachments).toHaveLength(1);
    expect(Buffer.from(parsed.attachments[0].content).equals(data)).toBe(true);
  });

  describe('a read that fails', () => {
    const path = (): string => dir.file('fail.bin', randomBytes(3 * READ + 17));

    it.each([
      ['the first read', 1],
      ['the first read ahead, started once the consumer asks for a second chunk', 2],
      ['a read ahead, failing while the last one is encoded', 3],
      ['a later read ahead', 4],
    ])('fails the copy with EFILE and closes the file: %s', async (_name, failing) => {
      const file = path();
      const before = openOn(file);
      const token = init({ canonical: 'application/octet-stream', encoding: 'base64', file });
      const injected = await failRead(failing);
      let error: unknown;
      let unhandled: unknown[];
      try {
        unhandled = await unhandledDuring(async () => {
          error = await copied(token).then(
            () => null,
            (e: unknown) => e,
          );
        });
      } finally {
        injected.restore();
      }
      expect(error).toEqual(expect.objectContaining({ name: 'MimeError', code: 'EFILE' }));
      expect((error as Error).message).toContain('simulated I/O error');
      expect((error as Error).message).toContain(file);
      expect(injected.reads()).toBeGreaterThanOrEqual(failing);
      expect(unhandled).toEqual([]);
      if (before !== null) expect(openOn(file)).toBe(before);
    });

    it('is not left unobserved when the consumer stops before it would have been awaited', async () => {
      const file = path();
      const before = openOn(file);
      const token = init({ canonical: 'application/octet-stream', encoding: 'base64', file });
      // The second read is started ahead once the consumer asks for a second chunk.
      const injected = await failRead(2);
      let bodyChunks = 0;
      let unhandled: unknown[];
      try {
        unhandled = await unhandledDuring(async () => {
          for await (const chunk of mime.messageChunks(token)) {
            if (chunk.length > 1000 && ++bodyChunks === 2) {
              // A turn of the event loop with the failed read ahead not yet awaited.
              await new Promise((resolve) => setImmediate(resolve));
              break;
            }
          }
        });
      } finally {
        injected.restore();
      }
      expect(bodyChunks).toBe(2);
      expect(injected.reads()).toBe(2);
      expect(unhandled).toEqual([]);
      // Leaving the loop waited for the read under way, then closed the file.
      if (before !== null) expect(openOn(file)).toBe(before);
    });
  });

  it('reads once, without a read ahead, for a consumer that stops at the first chunk', async () => {
    const file = dir.file('first-only.bin', randomBytes(3 * READ));
    const token = init({ canonical: 'application/octet-stream', encoding: 'binary', file });
    const counted = await failRead(0);
    try {
      for await (const chunk of mime.messageChunks(token)) if (chunk.length > 1000) break;
    } finally {
      counted.restore();
    }
    expect(counted.reads()).toBe(1);
  });

  it('reads READ at a time, and after a short read only checks for more with a chunk', async () => {
    const data = randomBytes(READ + CHUNK + 10);
    const token = init({ canonical: 'application/octet-stream', encoding: 'base64', file: dir.file('sizes.bin', data) });
    const counted = await failRead(0);
    let out: Buffer;
    try {
      out = await copied(token);
    } finally {
      counted.restore();
    }
    expect(bodyOf(out).equals(base64Lines(data))).toBe(true);
    expect(counted.sizes).toEqual([READ, READ, CHUNK]);
  });

  it('closes the file when the consumer stops while a read is under way', async () => {
    const file = dir.file('stop.bin', randomBytes(3 * READ));
    const before = openOn(file);
    const token = init({ canonical: 'application/octet-stream', encoding: 'binary', file });
    let seen = 0;
    for await (const chunk of mime.messageChunks(token)) {
      seen += chunk.length;
      if (seen > CHUNK) break;
    }
    if (before !== null) expect(openOn(file)).toBe(before);
  });

  describe('a file that changes while it is read', () => {
    it('gives the bytes read when it shrinks: a prefix of what it held, in well-formed base64', async () => {
      const data = randomBytes(3 * READ);
      const file = dir.file('shrinks.bin', data);
      const token = init({ canonical: 'application/octet-stream', encoding: 'base64', file });
      const out = await copied(token, () => truncateSync(file, READ + 1000));
      const lines = bodyOf(out).toString('latin1').split('\r\n');
      for (const line of lines.slice(0, -1)) expect(line).toMatch(/^[A-Za-z0-9+/]{76}$/);
      expect(lines[lines.length - 1]).toMatch(/^([A-Za-z0-9+/]{4}){0,18}([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$/);
      const decoded = Buffer.from(lines.join(''), 'base64');
      // At least the first read, which the cut followed; the reads after it got what was there when they ran.
      expect(decoded.length).toBeGreaterThanOrEqual(CHUNK);
      expect(decoded.length).toBeLessThan(data.length);
      expect(decoded.equals(data.subarray(0, decoded.length))).toBe(true);
    });

    it('gives the bytes read when it grows: a prefix of what it holds by the end, at least what it held at the start', async () => {
      const data = randomBytes(2 * READ + 5);
      const extra = randomBytes(1000);
      const file = dir.file('grows.bin', data);
      const token = init({ canonical: 'application/octet-stream', encoding: 'binary', file });
      const out = await copied(token, () => appendFileSync(file, extra));
      const body = bodyOf(out);
      const now = Buffer.concat([data, extra]);
      expect(body.length).toBeGreaterThanOrEqual(data.length);
      expect(body.length).toBeLessThanOrEqual(now.length);
      expect(body.equals(now.subarray(0, body.length))).toBe(true);
    });
  });
});
