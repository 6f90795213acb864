/**
 * Maildir-style delivery: a message is written under `tmp/`, flushed to disk,
 * then renamed into `new/`. A reader of `new/` therefore never sees half a
 * message, and a crash leaves only a stray file in `tmp/`.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

let delivered = 0;

/** Creates `dir/tmp`, `dir/new` and `dir/cur` when missing. */
export function ensureMaildir(dir: string): void {
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(dir, sub), { recursive: true });
}

/**
 * A file name that no other delivery shares: seconds, microseconds, process id
 * and a per-process counter (the Maildir recipe), random bytes for processes
 * that share a pid across hosts or containers, and the host name with `/` and
 * `:` escaped as Maildir asks.
 */
export function uniqueName(): string {
  const now = Date.now();
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000;
  delivered += 1;
  const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  return `${seconds}.M${micros}P${process.pid}Q${delivered}R${randomBytes(4).toString('hex')}.${host}.eml`;
}

/** The message was larger than the limit: nothing of it was published. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`message larger than ${limit} bytes`);
    this.name = 'TooLargeError';
  }
}

/** Passes the first `limit` bytes and swallows the rest, so a refused message never fills the disk. */
function capped(limit: number): Transform & { exceeded: boolean } {
  let seen = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const room = limit - seen;
      seen += chunk.length;
      if (seen > limit) transform.exceeded = true;
      callback(null, room <= 0 ? undefined : room >= chunk.length ? chunk : chunk.subarray(0, room));
    },
  }) as Transform & { exceeded: boolean };
  transform.exceeded = false;
  return transform;
}

/**
 * Writes `source` into the Maildir at `dir` and returns the path of the file
 * in `dir/new`. The file is fsynced before the rename and `new/` after it, so
 * once this resolves the message survives a crash. With `limit`, no more than
 * that many bytes reach the disk, and a larger message is removed from `tmp/`
 * and refused with a {@link TooLargeError}: it never appears in `new/`.
 */
export async function deliver(dir: string, source: Readable, limit?: number): Promise<string> {
  const name = uniqueName();
  const temporary = join(dir, 'tmp', name);
  const final = join(dir, 'new', name);
  try {
    if (limit === undefined) await pipeline(source, createWriteStream(temporary, { flags: 'wx' }));
    else {
      const cap = capped(limit);
      await pipeline(source, cap, createWriteStream(temporary, { flags: 'wx' }));
      if (cap.exceeded) throw new TooLargeError(limit);
    }
    const handle = await open(temporary, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, final);
    // The rename is an entry in new/: only a flushed directory keeps it after a crash.
    const folder = await open(join(dir, 'new'), 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  return final;
}
