/**
 * Runs the plan of a part (plan.ts) to produce its bytes: synchronously for
 * buildmessage, as an async stream for copymessage and the smtp layer, and in
 * counting or inspecting passes that never hold a body. File bodies are read
 * in 64 KiB chunks and pass through the encoders one chunk at a time.
 */
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readFileSync, readSync, type PathLike } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { MimeError } from '../lib/errors';
import { base64Length, BodyScanner, encoderFor, type BodyStats, type ChunkEncoder, type Transfer } from './encoding';
import type { Part } from './part';
import { contextOf, messagePlan, type BodyRef, type BuildOptions, type Plan, type Step } from './plan';

const CHUNK = 64 * 1024;

/** Encoders nested inside each other (a message/* sent as base64 holding a quoted-printable part). */
class EncoderStack {
  private readonly encoders: ChunkEncoder[] = [];

  get depth(): number {
    return this.encoders.length;
  }

  private through(data: Buffer, from: number): Buffer {
    let out = data;
    for (let k = from; k >= 0 && out.length > 0; k--) out = this.encoders[k].push(out);
    return out;
  }

  write(data: Buffer): Buffer {
    return this.through(data, this.encoders.length - 1);
  }

  push(encoder: ChunkEncoder): void {
    this.encoders.push(encoder);
  }

  pop(): Buffer {
    const encoder = this.encoders.pop() as ChunkEncoder;
    return this.through(encoder.end(), this.encoders.length - 1);
  }

  /**
   * Runs a step that needs no I/O (`bytes`, `push`, `pop`) and returns its output;
   * returns null for `scan` and `body`, which each driver reads in its own way.
   */
  apply(step: Step): Buffer | null {
    switch (step.op) {
      case 'bytes':
        return this.write(step.data);
      case 'push':
        this.push(encoderFor(step.transfer));
        return EMPTY;
      case 'pop':
        return this.pop();
      default:
        return null;
    }
  }
}

const EMPTY = Buffer.alloc(0);

function fileError(path: PathLike, error: unknown): MimeError {
  if (error instanceof MimeError) return error;
  return new MimeError(`error reading "${String(path)}": ${(error as Error).message}`, 'EFILE', { cause: error });
}

/** The bytes of a body, in chunks of at most 64 KiB, read synchronously. */
function* chunksSync(source: BodyRef): Generator<Buffer> {
  if (source.kind === 'buffer') {
    for (let at = 0; at < source.data.length; at += CHUNK) yield source.data.subarray(at, at + CHUNK);
    return;
  }
  let fd: number;
  try {
    fd = openSync(source.path, 'r');
  } catch (error) {
    throw fileError(source.path, error);
  }
  try {
    let position = source.offset;
    let left = source.length ?? Infinity;
    while (left > 0) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, left));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, position);
      } catch (error) {
        throw fileError(source.path, error);
      }
      if (n === 0) break;
      position += n;
      left -= n;
      yield chunk.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The same, read asynchronously. With `reuse` every chunk is read into the
 * same Buffer, overwritten by the next read: for a consumer that keeps none
 * of a chunk's bytes once it asks for the next (the scanner, a counter, an
 * encoder that copies), so that a long file makes no garbage per chunk.
 */
async function* chunks(source: BodyRef, reuse = false): AsyncGenerator<Buffer> {
  if (source.kind === 'buffer') {
    for (let at = 0; at < source.data.length; at += CHUNK) yield source.data.subarray(at, at + CHUNK);
    return;
  }
  let handle: FileHandle;
  try {
    handle = await open(source.path, 'r');
  } catch (error) {
    throw fileError(source.path, error);
  }
  try {
    let position = source.offset;
    let left = source.length ?? Infinity;
    let shared: Buffer | null = null;
    while (left > 0) {
      const size = Math.min(CHUNK, left);
      // Without reuse a fresh buffer each time: identity and line encoders hand the chunk itself on downstream.
      const chunk = reuse ? (shared ??= Buffer.allocUnsafe(size)) : Buffer.allocUnsafe(size);
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(chunk, 0, size, position));
      } catch (error) {
        throw fileError(source.path, error);
      }
      if (n === 0) break;
      position += n;
      left -= n;
      yield chunk.subarray(0, n);
    }
  } finally {
    await handle.close();
  }
}

/** The bytes of a body as one Buffer, read synchronously (getbody: the caller asked for the whole body). */
export function readAllSync(source: BodyRef): Buffer {
  if (source.kind === 'buffer') return source.data;
  if (source.offset === 0 && source.length === undefined) {
    try {
      return readFileSync(source.path);
    } catch (error) {
      throw fileError(source.path, error);
    }
  }
  return Buffer.concat([...chunksSync(source)]);
}

/** Scans a body synchronously (for the encoding choice). */
export function scanSync(source: BodyRef, text: boolean, early = false): BodyStats {
  const scanner = new BodyScanner(text);
  for (const chunk of chunksSync(source)) {
    scanner.update(chunk);
    if (early && scanner.unplain()) break;
  }
  return scanner.finish();
}

async function scan(source: BodyRef, text: boolean, early: boolean): Promise<BodyStats> {
  const scanner = new BodyScanner(text);
  for await (const chunk of chunks(source, true)) {
    scanner.update(chunk);
    if (early && scanner.unplain()) break;
  }
  return scanner.finish();
}

/** Runs a plan synchronously (used by buildmessage and by getheader's encoding answer). */
export function* runSync(plan: Plan): Generator<Buffer> {
  const stack = new EncoderStack();
  let reply: BodyStats | undefined;
  for (;;) {
    const next = plan.next(reply);
    reply = undefined;
    if (next.done) return;
    const step: Step = next.value;
    const done = stack.apply(step);
    if (done !== null) {
      if (done.length) yield done;
    } else if (step.op === 'scan') {
      reply = scanSync(step.source, step.text, step.early);
    } else if (step.op === 'body') {
      stack.push(encoderFor(step.transfer));
      for (const chunk of chunksSync(step.source)) {
        const out = stack.write(chunk);
        if (out.length) yield out;
      }
      const out = stack.pop();
      if (out.length) yield out;
    }
  }
}

/** Whether the encoder of a transfer writes its output to new Buffers, never passing on (part of) its input. */
function copies(transfer: Transfer): boolean {
  return transfer === 'base64' || transfer === 'base64-text' || transfer === 'qp-text' || transfer === 'qp-binary';
}

/** Runs a plan asynchronously, yielding the message bytes chunk by chunk. */
async function* runAsync(plan: Plan): AsyncGenerator<Buffer> {
  const stack = new EncoderStack();
  let reply: BodyStats | undefined;
  for (;;) {
    const next = plan.next(reply);
    reply = undefined;
    if (next.done) return;
    const step: Step = next.value;
    const done = stack.apply(step);
    if (done !== null) {
      if (done.length) yield done;
    } else if (step.op === 'scan') {
      reply = await scan(step.source, step.text, step.early);
    } else if (step.op === 'body') {
      stack.push(encoderFor(step.transfer));
      for await (const chunk of chunks(step.source, copies(step.transfer))) {
        const out = stack.write(chunk);
        if (out.length) yield out;
      }
      const out = stack.pop();
      if (out.length) yield out;
    }
  }
}

/** The whole message as one Buffer (synchronous; file bodies are read with synchronous I/O). */
export function buildBytes(part: Part, options: BuildOptions = {}): Buffer {
  return Buffer.concat([...runSync(messagePlan(part, options))]);
}

/**
 * The message as a byte stream. Options are checked at once (a bad extra
 * header throws here); a file that cannot be read fails the stream.
 */
export function messageStream(part: Part, options: BuildOptions = {}): Readable {
  contextOf(options);
  return Readable.from(runAsync(messagePlan(part, options)), { objectMode: false });
}

/**
 * The message bytes as an async iterable, without messageStream's Readable
 * around them (for a consumer that only iterates). Options are checked at
 * once; leaving the loop early closes a file body being read.
 */
export function messageChunks(part: Part, options: BuildOptions = {}): AsyncIterable<Buffer> {
  return runAsync(messagePlan(part, options));
}

/**
 * Watches one writable for copyTo: how many writes it has not finished, and
 * the first error it reported, so that the copy can wait for 'drain' or for
 * the last write and fail as soon as the stream does.
 */
class WriteWatch {
  private pending = 0;
  private error: unknown;
  private wake: (() => void) | null = null;
  private readonly onEvent = (): void => this.notify();
  private readonly onError = (error: unknown): void => this.fail(error);
  private readonly onClose = (): void => this.fail(new MimeError('the stream was closed before the message was written'));

  constructor(private readonly writable: Writable) {
    writable.on('drain', this.onEvent);
    writable.on('error', this.onError);
    writable.on('close', this.onClose);
  }

  detach(): void {
    this.writable.off('drain', this.onEvent);
    this.writable.off('error', this.onError);
    this.writable.off('close', this.onClose);
  }

  private fail(error: unknown): void {
    if (this.error === undefined) this.error = error;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private check(): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Writes one chunk; resolves at once, or after 'drain' when the stream asked to wait. */
  async write(chunk: Buffer): Promise<void> {
    this.check();
    if (this.writable.destroyed || this.writable.writableEnded) {
      throw new MimeError('the stream was closed before the message was written');
    }
    this.pending++;
    const ok = this.writable.write(chunk, (error?: Error | null) => {
      this.pending--;
      if (error) this.fail(error);
      else this.notify();
    });
    while (!ok && this.writable.writableNeedDrain && this.error === undefined && !this.writable.destroyed) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.check();
  }

  /** Resolves once the stream has finished every write (its callbacks have run). */
  async settle(): Promise<void> {
    while (this.pending > 0 && this.error === undefined && !this.writable.destroyed) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    this.check();
    if (this.pending > 0) throw new MimeError('the stream was closed before the message was written');
  }
}

/**
 * Writes the message to `writable`, waiting for 'drain' whenever it asks;
 * resolves once the stream has finished every write. The stream is not ended.
 */
export async function copyTo(part: Part, writable: Writable, options: BuildOptions = {}): Promise<void> {
  const watch = new WriteWatch(writable);
  try {
    for await (const chunk of runAsync(messagePlan(part, options))) await watch.write(chunk);
    await watch.settle();
  } finally {
    watch.detach();
  }
}

async function regionLength(source: BodyRef & { kind: 'file' }): Promise<number> {
  if (source.length !== undefined) return source.length;
  try {
    return Math.max(0, (await stat(source.path)).size - source.offset);
  } catch (error) {
    throw fileError(source.path, error);
  }
}

/**
 * The exact length of the message bytes. Base64 and unencoded file bodies
 * are counted from the file's size; the others are encoded and counted,
 * chunk by chunk, without being kept.
 */
export async function countBytes(part: Part, options: BuildOptions = {}): Promise<number> {
  const plan = messagePlan(part, options);
  const stack = new EncoderStack();
  let total = 0;
  let reply: BodyStats | undefined;
  for (;;) {
    const next = plan.next(reply);
    reply = undefined;
    if (next.done) return total;
    const step = next.value;
    const done = stack.apply(step);
    if (done !== null) {
      total += done.length;
    } else if (step.op === 'scan') {
      reply = await scan(step.source, step.text, step.early);
    } else if (step.op === 'body') {
      const source = step.source;
      if (stack.depth === 0 && source.kind === 'file' && (step.transfer === 'base64' || step.transfer === 'identity')) {
        const length = await regionLength(source);
        total += step.transfer === 'base64' ? base64Length(length) : length;
        continue;
      }
      stack.push(encoderFor(step.transfer));
      for await (const chunk of chunks(source, true)) total += stack.write(chunk).length;
      total += stack.pop().length;
    }
  }
}

function hasHighByte(data: Buffer): boolean {
  return !isAscii(data);
}

/**
 * Whether the message bytes hold any octet ≥ 0x80 (what 8BITMIME or SMTPUTF8
 * would have to carry). Quoted-printable and base64 bodies are 7-bit by
 * construction and are not read.
 */
export async function anyEightBit(part: Part, options: BuildOptions = {}): Promise<boolean> {
  const plan = messagePlan(part, options);
  // Inside an encoded message/* everything comes out as quoted-printable or base64.
  let encodedDepth = 0;
  let reply: BodyStats | undefined;
  for (;;) {
    const next = plan.next(reply);
    reply = undefined;
    if (next.done) return false;
    const step = next.value;
    switch (step.op) {
      case 'bytes':
        if (encodedDepth === 0 && hasHighByte(step.data)) return true;
        break;
      case 'scan':
        reply = await scan(step.source, step.text, step.early);
        break;
      case 'push':
        encodedDepth++;
        break;
      case 'pop':
        encodedDepth--;
        break;
      case 'body':
        if (encodedDepth > 0 || (step.transfer !== 'identity' && step.transfer !== 'lines')) break; // encoded: 7-bit
        for await (const chunk of chunks(step.source, true)) if (hasHighByte(chunk)) return true;
        break;
    }
  }
}
