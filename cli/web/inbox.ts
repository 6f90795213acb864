/**
 * The inbox index: one compact summary per `.eml` file in `DIR/new`, newest
 * first, kept in memory. Messages already there at start are indexed from
 * their header blocks; new ones are added as the capture server stores them.
 * Deleting removes the file; the envelope log keeps its line (it is a log).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readEnvelopes } from './envelopes';
import type { Envelope } from './envelopes';
import { searchKeys, summarize } from './summary';
import type { Summary } from './summary';

interface Entry {
  summary: Summary;
  file: string;
  envelope?: Envelope;
  /** What a search looks in, lower-cased once here rather than on every search. */
  keys: readonly string[];
}

function entryOf(summary: Summary, file: string, envelope: Envelope | undefined): Entry {
  return { summary, file, ...(envelope ? { envelope } : {}), keys: searchKeys(summary) };
}

export class Inbox {
  // Newest last: arrivals are pushed; the list is read backwards.
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();

  constructor(readonly dir: string) {}

  /** Indexes what `DIR/new` holds now, with the envelopes the log recorded. */
  load(): void {
    const envelopes = readEnvelopes(this.dir);
    const folder = join(this.dir, 'new');
    const found: Entry[] = [];
    for (const file of readdirSync(folder)) {
      if (!file.endsWith('.eml')) continue;
      const path = join(folder, file);
      try {
        const envelope = envelopes.get(file);
        const received = envelope ? Date.parse(envelope.at) : statSync(path).mtimeMs;
        found.push(entryOf(summarize(file, readFileSync(path), received, envelope), file, envelope));
      } catch {
        // removed between the listing and the read
      }
    }
    found.sort((a, b) => a.summary.received - b.summary.received || (a.file < b.file ? -1 : 1));
    for (const entry of found) this.insert(entry);
  }

  /** Adds a message the server just stored; returns its summary. */
  async add(file: string, envelope?: Envelope): Promise<Summary> {
    const bytes = await readFile(join(this.dir, 'new', file));
    const entry = entryOf(summarize(file, bytes, envelope ? Date.parse(envelope.at) : Date.now(), envelope), file, envelope);
    this.insert(entry);
    return entry.summary;
  }

  private insert(entry: Entry): void {
    if (this.byId.has(entry.summary.id)) return;
    this.entries.push(entry);
    this.byId.set(entry.summary.id, entry);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Summaries newest first, filtered by `query` (addresses and subject), from `offset`, at most `limit`. */
  list(query = '', offset = 0, limit = Number.POSITIVE_INFINITY): { total: number; items: Summary[] } {
    const needle = query.trim().toLowerCase();
    const items: Summary[] = [];
    let total = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { summary, keys } = this.entries[i];
      if (needle !== '' && !keys.some((key) => key.includes(needle))) continue;
      if (total >= offset && items.length < limit) items.push(summary);
      total += 1;
    }
    return { total, items };
  }

  summary(id: string): Summary | undefined {
    return this.byId.get(id)?.summary;
  }

  envelope(id: string): Envelope | undefined {
    return this.byId.get(id)?.envelope;
  }

  /** The stored bytes, or undefined when the message is unknown or its file has gone. */
  async bytes(id: string): Promise<Buffer | undefined> {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    try {
      return await readFile(join(this.dir, 'new', entry.file));
    } catch {
      return undefined;
    }
  }

  /** Deletes the message's file and forgets it; false when it was not known. */
  async remove(id: string): Promise<boolean> {
    const entry = this.byId.get(id);
    if (!entry) return false;
    this.byId.delete(id);
    this.entries.splice(this.entries.indexOf(entry), 1);
    await unlink(join(this.dir, 'new', entry.file)).catch(() => undefined);
    return true;
  }
}
