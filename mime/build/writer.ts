/**
 * Runs the plan of a part (plan.ts) to produce its bytes: synchronously for
 * buildmessage, as an async stream for copymessage and the smtp layer, and in
 * counting or inspecting passes that never hold a body. File bodies are read
 * 192 KiB at a time, the next read under way while the last is encoded, and
 * pass through the encoders in chunks of 64 KiB.
 */
import { isAscii } from 'node:buffer';
import { closeSync, openSync, readFileSync, readSync, type PathLike } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { MimeError } from '../../lib/errors';
import { BodyScanner, type BodyStats, type Transfer } from '../codec/encoding';
import { base64Length, encoderFor, type ChunkEncoder } from '../codec/encoders';
import type { Part } from '../part';
import { contextOf, messagePlan, type BodyRef, type BuildOptions, type Plan, type Step } from './plan';

/**
 * Octets handed to the encoders at a time: 1,150 lines' worth of base64 (57
 * octets a line), so that each chunk ends on a whole line, leaves no octet over
 * for the next, and its base64 text (87 KiB) stays a string in V8's young
 * generation (above 128 KiB a string goes to the old one and costs a full collection).
 */
export const CHUNK = 57 * 1150;
/**
 * Octets read from a file at a time, then handed on in CHUNK slices. Each read
 * is a trip through libuv's thread pool: 100 MiB in reads of 64 KiB took 60-100
 * ms here, longer than encoding it, and 30-45 ms in reads of 192 KiB. Larger
 * reads gained little more and cost resident memory: two Buffers of this size
 * per body are alive at most.
 */
export const READ = 3 * CHUNK;

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

/** The bytes of a body, in chunks of at most CHUNK octets, read synchronously. */
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

/** One read's outcome, never a rejection: a read started ahead must not fail unobserved while its predecessor is encoded. */
type ReadOutcome = { bytes: number; error?: undefined } | { bytes: 0; error: unknown };

function startRead(handle: FileHandle, into: Buffer, size: number, position: number): Promise<ReadOutcome> {
  return handle.read(into, 0, size, position).then(
    ({ bytesRead }) => ({ bytes: bytesRead }),
    (error: unknown) => ({ bytes: 0, error }),
  );
}

/**
 * The same, read asynchronously: READ octets at a time, handed on in CHUNK
 * slices, with the next read started before the slices of the last one are
 * handed on (read while they are encoded). The first read ahead waits until
 * the consumer asks for a second chunk, so that one that stops at the first (a
 * scan that has seen enough, a message found too large to hold in memory)
 * reads no more than one READ. Without `reuse` every read gets a fresh
 * Buffer (identity and line encoders hand the slices themselves on
 * downstream). With `reuse` the reads take turns in two Buffers, one filling
 * while the other is consumed: for a consumer that keeps none of a chunk's
 * bytes once it asks for the next (the scanner, a counter, an encoder that
 * copies), so that a long file makes no garbage per read.
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
  let pending: Promise<ReadOutcome> | null = null;
  try {
    let position = source.offset;
    let left = source.length ?? Infinity;
    let spare: Buffer | null = null;
    let target: Buffer = Buffer.allocUnsafe(Math.min(READ, left));
    let asked = target.length;
    // A read that came back short found the end of the file (as it was then): the next only checks, with a small Buffer.
    let atEnd = false;
    // Starts the next read, into the spare Buffer unless that is too small (a check after the end used a small one).
    const readAhead = (): void => {
      if (pending || left <= 0) return;
      const size = Math.min(atEnd ? CHUNK : READ, left);
      target = spare !== null && spare.length >= size ? spare : Buffer.allocUnsafe(size);
      spare = null;
      asked = size;
      pending = startRead(handle, target, size, position);
    };
    if (left > 0) pending = startRead(handle, target, asked, position);
    let first = true;
    while (pending) {
      const outcome: ReadOutcome = await pending;
      pending = null;
      if (outcome.error !== undefined) throw fileError(source.path, outcome.error);
      const n = outcome.bytes;
      if (n === 0) break;
      const filled = target;
      // Read before the next read ahead changes `asked`.
      atEnd = n < asked;
      position += n;
      left -= n;
      if (!first) readAhead();
      first = false;
      for (let at = 0; at < n; at += CHUNK) {
        yield filled.subarray(at, Math.min(n, at + CHUNK));
        readAhead();
      }
      if (reuse) spare = filled;
    }
  } finally {
    // A read under way still writes into its Buffer and holds the handle: let it end first.
    if (pending) await pending;
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
      yield* encodeSync(stack, step.source);
      const out = stack.pop();
      if (out.length) yield out;
    }
  }
}

/** A body read synchronously through the encoders on the stack: the output of each chunk. */
function* encodeSync(stack: EncoderStack, source: BodyRef): Generator<Buffer> {
  for (const chunk of chunksSync(source)) {
    const out = stack.write(chunk);
    if (out.length) yield out;
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
      // A body in memory is scanned without a promise.
      reply = step.source.kind === 'buffer' ? scanSync(step.source, step.text, step.early) : await scan(step.source, step.text, step.early);
    } else if (step.op === 'body') {
      stack.push(encoderFor(step.transfer));
      if (step.source.kind === 'buffer') {
        // In memory: no promise per chunk.
        yield* encodeSync(stack, step.source);
      } else {
        for await (const chunk of chunks(step.source, copies(step.transfer))) {
          const out = stack.write(chunk);
          if (out.length) yield out;
        }
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

  // One callback for every write, not a closure each.
  private readonly onWritten = (error?: Error | null): void => {
    this.pending--;
    if (error) this.fail(error);
    else this.notify();
  };

  /**
   * Writes one chunk. Returns null when the stream can take more at once (no
   * promise to make and await, most of a copy's chunks), else a promise that
   * resolves after 'drain'.
   */
  write(chunk: Buffer): Promise<void> | null {
    this.check();
    if (this.writable.destroyed || this.writable.writableEnded) {
      throw new MimeError('the stream was closed before the message was written');
    }
    this.pending++;
    const ok = this.writable.write(chunk, this.onWritten);
    this.check();
    return ok ? null : this.drained();
  }

  private async drained(): Promise<void> {
    while (this.writable.writableNeedDrain && this.error === undefined && !this.writable.destroyed) {
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
    for await (const chunk of runAsync(messagePlan(part, options))) {
      const drained = watch.write(chunk);
      if (drained) await drained;
    }
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
