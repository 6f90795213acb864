/**
 * Where the parser reads a message from: a Buffer already in memory, or a file
 * read in windows so that a 1 GB message never has to fit in memory. Both
 * answer the same questions by absolute offset, so the parser itself does not
 * know which one it walks.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { BodySource } from '../part';

export interface Source {
  /** Total length in bytes. */
  readonly size: number;
  /** Bytes [start, end) for short-lived inspection (may share or copy memory). */
  peek(start: number, end: number): Buffer;
  /** Bytes [start, end) to keep in the model, or null when that would pass the memory budget. */
  hold(start: number, end: number): Buffer | null;
  /** Counts `length` bytes made from this source (a decoded body) against the budget; false when it would pass it. */
  charge(length: number): boolean;
  /** The first offset ≥ from where `needle` starts and ends before `limit`, or -1. */
  indexOf(needle: Buffer, from: number, limit: number): number;
  /** The body source for a leaf body lying at [start, end). */
  body(start: number, end: number): BodySource;
  /** True when `peek` is free (the bytes are already in memory). */
  readonly inMemory: boolean;
}

/** A message held in one Buffer: everything is a zero-copy view. */
export class BufferSource implements Source {
  readonly inMemory = true;
  constructor(private readonly data: Buffer) {}

  get size(): number {
    return this.data.length;
  }

  peek(start: number, end: number): Buffer {
    return this.data.subarray(start, end);
  }

  hold(start: number, end: number): Buffer {
    return this.data.subarray(start, end);
  }

  charge(): boolean {
    // What is decoded from a message in memory is bounded by that message.
    return true;
  }

  indexOf(needle: Buffer, from: number, limit: number): number {
    if (from >= limit) return -1;
    // A view bounded by `limit` keeps a nested search from scanning to the end of the message.
    const at = this.data.subarray(from, limit).indexOf(needle);
    return at < 0 ? -1 : from + at;
  }

  body(start: number, end: number): BodySource {
    return { kind: 'parsed', data: this.data.subarray(start, end) };
  }
}

/** Size of one read from a file. */
export const WINDOW = 64 * 1024;

/**
 * A message file read with positioned reads through one cached window. Bytes
 * kept in the model (header blocks, preambles, decoded message/* bodies) are
 * counted against `budget`, so a hostile file cannot make the parse hold more.
 */
export class FileSource implements Source {
  readonly inMemory = false;
  readonly size: number;
  private readonly fd: number;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    readonly path: string,
    /** Bytes that may still be copied into the model. */
    private budget: number,
  ) {
    this.fd = openSync(path, 'r');
    try {
      this.size = fstatSync(this.fd).size;
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(start: number, end: number): Buffer {
    const length = Math.max(0, Math.min(end, this.size) - start);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, start + done);
      if (n === 0) break; // the file shrank under us: hand back what is there
      done += n;
    }
    return done === length ? out : out.subarray(0, done);
  }

  peek(start: number, end: number): Buffer {
    const windowEnd = this.windowStart + this.window.length;
    if (start >= this.windowStart && end <= windowEnd) {
      return this.window.subarray(start - this.windowStart, end - this.windowStart);
    }
    if (end - start > WINDOW) return this.read(start, end);
    this.window = this.read(start, start + WINDOW);
    this.windowStart = start;
    return this.window.subarray(0, Math.min(end - start, this.window.length));
  }

  charge(length: number): boolean {
    if (length > this.budget) return false;
    this.budget -= length;
    return true;
  }

  hold(start: number, end: number): Buffer | null {
    if (!this.charge(end - start)) return null;
    // A copy: a view would pin the whole 64 KiB window for a few bytes.
    return Buffer.from(this.peek(start, end));
  }

  indexOf(needle: Buffer, from: number, limit: number): number {
    let at = from;
    while (at + needle.length <= limit) {
      const end = Math.min(limit, at + WINDOW);
      const chunk = this.peek(at, end);
      const found = chunk.indexOf(needle);
      if (found >= 0) return at + found;
      if (end >= limit) return -1;
      // Step back by needle.length - 1 so that a match straddling two windows is seen.
      at = end - needle.length + 1;
    }
    return -1;
  }

  body(start: number, end: number): BodySource {
    return { kind: 'file', path: this.path, offset: start, length: end - start, encoded: true };
  }
}
