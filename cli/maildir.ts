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

/**
 * Writes `source` into the Maildir at `dir` and returns the path of the file
 * in `dir/new`. The file is fsynced before the rename and `new/` after it, so
 * once this resolves the message survives a crash.
 */
export async function deliver(dir: string, source: Readable): Promise<string> {
  const name = uniqueName();
  const temporary = join(dir, 'tmp', name);
  const final = join(dir, 'new', name);
  try {
    await pipeline(source, createWriteStream(temporary, { flags: 'wx' }));
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
