/**
 * The write-ahead journal of `smtp.sendmany` (API.md, "Bulk journal"): one
 * JSON object per line, each line on disk (fsync) before the step it records
 * can have an effect. `sending` is written just before a message's end of
 * data goes out; `sent`, `refused` or `failed` after the server's final
 * answer. A crash can come between any two instructions, so on a restart:
 * an id with an outcome is done, an id whose last line is `sending` may have
 * been delivered (uncertain), and an id with no line was never at the end of
 * data. One more line, `deferred`, follows a `sending` whose end of data was
 * answered without taking the message (a 4xx) or never left (the connection
 * broke first): nothing is pending for that id, and it is sent again.
 *
 * Lines from messages sent at the same time share one write and one fsync.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { JournalError, type Rejected } from '../../lib/errors';

export { JournalError };

/** The states a journal line records. */
export type JournalState = 'sending' | 'deferred' | 'sent' | 'refused' | 'failed';

/** The outcomes: an id whose last line is one of these is done. */
export type JournalOutcome = 'sent' | 'refused' | 'failed';

const STATES = new Set<string>(['sending', 'deferred', 'sent', 'refused', 'failed']);

/** What the journal knows about one id: its latest line. */
export interface JournalEntry {
  state: JournalState;
  /** For `sent`: the refused recipients; for `refused`/`failed`: the refusal or error, as recorded. */
  rejected: Rejected[];
  error?: { code?: string; reply?: number | null; message: string };
}

/** Extra data of an outcome line. */
export interface OutcomeDetail {
  rejected?: Rejected[];
  error?: unknown;
}


interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** An open journal: the state read at start, and the lines appended since. */
export class Journal {
  private readonly entries: Map<string, JournalEntry>;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private failure: JournalError | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: fs.FileHandle,
    private readonly lockFile: string,
    entries: Map<string, JournalEntry>,
  ) {
    this.entries = entries;
  }

  /**
   * Opens (or creates) the journal at `file` and reads it. A torn last line,
   * left by a crash during a write, is cut off: it was never fsynced, so the
   * step it announced never happened. A bad line before good ones is refused.
   * A lock file (`<file>.lock`, holding the process id) keeps a second run off
   * the same journal while the first is alive.
   */
  static async open(file: string): Promise<Journal> {
    const lockFile = `${file}.lock`;
    await takeLock(file, lockFile);
    let handle: fs.FileHandle | undefined;
    try {
      const existed = await fs.stat(file).then(() => true, () => false);
      handle = await fs.open(file, 'a+');
      if (!existed) await syncDirectory(file);
      const text = await handle.readFile();
      const { entries, goodLength } = readLines(file, text);
      if (goodLength < text.length) {
        await handle.truncate(goodLength);
        await handle.sync();
      }
      return new Journal(file, handle, lockFile, entries);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await fs.unlink(lockFile).catch(() => undefined);
      if (error instanceof JournalError) throw error;
      throw new JournalError(file, (error as Error).message, { cause: error });
    }
  }

  /** The latest line for `id`, if any. */
  entry(id: string): JournalEntry | undefined {
    return this.entries.get(id);
  }

  /** How many ids the journal knows. */
  get size(): number {
    return this.entries.size;
  }

  /** Set once a write failed; every later write fails with it. */
  get broken(): JournalError | null {
    return this.failure;
  }

  /** Records that the end of data of `id` is about to go out. Resolves once the line is on disk. */
  sending(id: string): Promise<void> {
    return this.append(id, { state: 'sending', rejected: [] });
  }

  /** Records that the end of data of `id` did not deliver it (answered 4xx, or never sent); it will be tried again. */
  deferred(id: string, error?: unknown): Promise<void> {
    return this.append(id, { state: 'deferred', rejected: [], error: error === undefined ? undefined : describe(error) });
  }

  /** Records the final outcome of `id`. */
  outcome(id: string, state: JournalOutcome, detail: OutcomeDetail = {}): Promise<void> {
    return this.append(id, {
      state,
      rejected: detail.rejected ?? [],
      error: detail.error === undefined || detail.error === null ? undefined : describe(detail.error),
    });
  }

  /** Waits for pending lines, closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.handle.close().catch(() => undefined);
    await fs.unlink(this.lockFile).catch(() => undefined);
  }

  private append(id: string, entry: JournalEntry): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new JournalError(this.file, 'the journal is closed'));
    const record: Record<string, unknown> = { id, state: entry.state, at: new Date().toISOString() };
    if (entry.rejected.length > 0) record.rejected = entry.rejected;
    if (entry.error) record.error = entry.error;
    const line = JSON.stringify(record) + '\n';
    // Known at once, so the rest of the run sees the state it asked for even while the write is pending.
    this.entries.set(id, entry);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  /** Group commit: every line queued while the previous write ran goes out in one write and one fsync. */
  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          if (this.failure) throw this.failure;
          await writeAll(this.handle, Buffer.from(batch.map((p) => p.line).join(''), 'utf8'));
          await this.handle.sync();
          for (const p of batch) p.resolve();
        } catch (error) {
          this.failure ??= error instanceof JournalError ? error : new JournalError(this.file, `write failed: ${(error as Error).message}`, { cause: error });
          for (const p of batch) p.reject(this.failure);
        }
      }
    } finally {
      this.flushing = null;
    }
  }
}

function describe(error: unknown): { code?: string; reply?: number | null; message: string } {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; replyCode?: number | null };
    return { code: typeof e.code === 'string' ? e.code : undefined, reply: e.replyCode, message: e.message };
  }
  return { message: String(error) };
}

async function writeAll(handle: fs.FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** A new file is durable only once its directory entry is: fsync the directory too. */
async function syncDirectory(file: string): Promise<void> {
  const dir = await fs.open(path.dirname(path.resolve(file)), 'r');
  try {
    await dir.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the file's own fsyncs still hold its lines.
  } finally {
    await dir.close();
  }
}

function parseLine(line: string): { id: string; entry: JournalEntry } | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || typeof v.state !== 'string' || !STATES.has(v.state)) return null;
  const rejected = Array.isArray(v.rejected) ? (v.rejected as Rejected[]) : [];
  const error = typeof v.error === 'object' && v.error !== null ? (v.error as JournalEntry['error']) : undefined;
  return { id: v.id, entry: { state: v.state as JournalState, rejected, error } };
}

/** The latest line per id, and how many leading bytes are whole, good lines. */
function readLines(file: string, text: Buffer): { entries: Map<string, JournalEntry>; goodLength: number } {
  const entries = new Map<string, JournalEntry>();
  let start = 0;
  let goodLength = 0;
  let badAt = -1;
  let lineNumber = 0;
  while (start < text.length) {
    const newline = text.indexOf(0x0a, start);
    const end = newline < 0 ? text.length : newline;
    lineNumber++;
    const parsed = newline < 0 ? null : parseLine(text.toString('utf8', start, end));
    if (parsed) {
      // A good line after a bad one: the bad one was not a torn tail but damage.
      if (badAt >= 0) throw new JournalError(file, `line ${badAt} is not a journal line`);
      entries.set(parsed.id, parsed.entry);
      goodLength = end + 1;
    } else if (badAt < 0) badAt = lineNumber;
    start = end + 1;
  }
  return { entries, goodLength };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeLock(file: string, lockFile: string): Promise<void> {
  for (let round = 0; round < 2; round++) {
    try {
      const handle = await fs.open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new JournalError(file, `cannot create the lock ${lockFile}: ${(error as Error).message}`, { cause: error });
      }
    }
    const owner = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new JournalError(file, `in use by process ${owner} (lock ${lockFile})`);
    }
    if (owner === process.pid) throw new JournalError(file, `already open in this process (lock ${lockFile})`);
    // The run that held it is gone (killed, crashed): its lock no longer protects anything.
    await fs.unlink(lockFile).catch(() => undefined);
  }
  throw new JournalError(file, `cannot take the lock ${lockFile}`);
}
