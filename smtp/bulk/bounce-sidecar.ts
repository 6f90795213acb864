/**
 * The bounce sidecar of a file journal: `<journal>.bounces`, one JSON object
 * per line, one line per bounce report entry tied to an item. A running
 * `tclmail bulk` holds the journal's lock for hours; bounces arrive while it
 * runs, so they are not written into the journal but beside it, and the file
 * ledger folds them in when it opens and whenever it reports (status, counts,
 * items, lookups).
 *
 * No lock: every line is one `write()` on a descriptor opened with O_APPEND,
 * then fsynced. On a local file system the kernel positions and writes an
 * O_APPEND write as one step, so lines of two writers (`tclmail bounces` and
 * `tclmail serve --bounces` at once) never interleave; a line is kept under
 * {@link MAX_LINE} bytes (the diagnostic is cut) so that it is one short
 * write. A crash mid-write leaves at most a torn last line, which readers
 * skip. (NFS does not honour O_APPEND atomically: keep the journal local.)
 *
 * The fold, per item, in the order of the lines: a `failed` entry makes the
 * item `bounced` (hard or soft); a later `delivered`/`relayed`/`expanded`
 * entry clears a soft bounce, never a hard one; a `delayed` entry changes
 * nothing; a second hard bounce keeps the first.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { BounceRecord } from './ledger';

/** Longest line written: below Linux's PIPE_BUF (4096), one short write. */
export const MAX_LINE = 4000;

/** One line of the sidecar. */
export interface BounceLine {
  id: string;
  /** The RFC 3464 action of the entry (`failed`, `delayed`, `delivered`, ...). */
  action: string;
  status: string;
  reason: string;
  hard: boolean;
  diagnostic: string;
  at: string;
  /** The bounced address, as the report names it. */
  address?: string;
}

/** The sidecar's path for a journal. */
export function sidecarPath(journal: string): string {
  return `${journal}.bounces`;
}

function format(entry: BounceLine): string {
  const record = { id: entry.id, action: entry.action, status: entry.status, reason: entry.reason, hard: entry.hard, diagnostic: entry.diagnostic, at: entry.at, ...(entry.address ? { address: entry.address } : {}) };
  let text = JSON.stringify(record);
  if (Buffer.byteLength(text) + 1 > MAX_LINE) {
    // The diagnostic is the only long field: cut it until the line fits.
    let diagnostic = entry.diagnostic;
    while (Buffer.byteLength(text) + 1 > MAX_LINE && diagnostic.length > 0) {
      diagnostic = diagnostic.slice(0, Math.floor(diagnostic.length * 0.75));
      text = JSON.stringify({ ...record, diagnostic });
    }
  }
  return text + '\n';
}

/**
 * Appends entries to the sidecar of `journal` (created when missing), one
 * write per line, then fsyncs. Safe beside a running bulk and another writer.
 */
export function appendBounces(journal: string, entries: readonly BounceLine[]): void {
  if (entries.length === 0) return;
  const fd = openSync(sidecarPath(journal), 'a');
  try {
    for (const entry of entries) {
      const bytes = Buffer.from(format(entry), 'utf8');
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function parseLine(text: string): BounceLine | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || v.id === '' || typeof v.action !== 'string' || typeof v.status !== 'string' || typeof v.reason !== 'string' || typeof v.hard !== 'boolean' || typeof v.at !== 'string') return null;
  return { id: v.id, action: v.action, status: v.status, reason: v.reason, hard: v.hard, diagnostic: typeof v.diagnostic === 'string' ? v.diagnostic : '', at: v.at, ...(typeof v.address === 'string' ? { address: v.address } : {}) };
}

/** Folds one entry into the bounce an item has (see the module comment). */
export function foldBounce(current: BounceRecord | undefined, entry: Pick<BounceLine, 'action' | 'status' | 'reason' | 'hard' | 'diagnostic' | 'at'>): BounceRecord | undefined {
  if (current?.hard) return current;
  if (entry.action === 'failed') return { status: entry.status, reason: entry.reason, hard: entry.hard, diagnostic: entry.diagnostic, at: entry.at };
  if (entry.action === 'delivered' || entry.action === 'relayed' || entry.action === 'expanded') return undefined;
  return current;
}

/**
 * The bounces of one journal as read so far; {@link refresh} reads what was
 * appended since. Holds one record per bounced item (bounces are the few).
 */
export class BounceSidecar {
  private offset = 0;
  private readonly byId = new Map<string, BounceRecord>();

  constructor(readonly journal: string) {}

  /** Reads the lines appended since the last call; a torn or foreign line is skipped. */
  refresh(): this {
    const file = sidecarPath(this.journal);
    if (!existsSync(file)) return this;
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return this;
      const bytes = Buffer.allocUnsafe(size - this.offset);
      let read = 0;
      while (read < bytes.length) {
        const n = readSync(fd, bytes, read, bytes.length - read, this.offset + read);
        if (n === 0) break;
        read += n;
      }
      const last = bytes.subarray(0, read).lastIndexOf(0x0a);
      if (last < 0) return this;
      for (const text of bytes.toString('utf8', 0, last).split('\n')) {
        const entry = parseLine(text);
        if (entry === null) continue;
        const folded = foldBounce(this.byId.get(entry.id), entry);
        if (folded === undefined) this.byId.delete(entry.id);
        else this.byId.set(entry.id, folded);
      }
      this.offset += last + 1;
    } finally {
      closeSync(fd);
    }
    return this;
  }

  /** The bounce of `id`, if any. */
  get(id: string): BounceRecord | undefined {
    return this.byId.get(id);
  }

  /** Every bounced id with its record. */
  entries(): IterableIterator<[string, BounceRecord]> {
    return this.byId.entries();
  }

  get size(): number {
    return this.byId.size;
  }
}
