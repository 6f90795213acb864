/**
 * The file ledger: the write-ahead journal of `smtp.sendmany` and `tclmail
 * bulk`, one JSON object per line (docs/bulk.md). The first line is the
 * campaign's manifest; each later line is one step of one item, with its id,
 * its digest and the time, fsynced before the step it records can have an
 * effect: `sending` just before the end of data goes out, `sent`, `refused` or
 * `failed` (with the reply code) after the final answer, `deferred` when the
 * end of data did not take the message. Lines of messages sent at the same
 * time share one write and one fsync.
 *
 * On open the journal is indexed compactly (id-table.ts): per item a 64-bit
 * hash of its id, a key of its digest, its state and the offset of its latest
 * line, and no string; a detail is re-read from the file when asked for.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { JournalError } from '../../lib/errors';
import { digestKey, idHash, IdTable } from './id-table';
import type { Entry } from './id-table';
import { formatItemLine, formatManifestLine, JournalLineError, linesOf, parseJournalLine, readLineAt } from './journal-lines';
import type { ItemLine } from './journal-lines';
import { JournalLock } from './journal-lock';
import { BounceSidecar } from './bounce-sidecar';
import { emptyCounts, FINAL_STATES, ITEM_STATES, LedgerError } from './ledger';
import type { Admission, CampaignCounts, CampaignManifest, ItemState, Ledger, LedgerItem, OutcomeRecord } from './ledger';
import type { DomainPlan } from './domains';

export { JournalError, JournalLineError };
export { JournalLockError } from './journal-lock';

const STATE_MASK = 0x0f;
/** Set on an entry once the current run has admitted the id: a second admission is a duplicate. */
const SEEN = 0x10;
/** Set on an entry once this run has written a line for it. */
const WRITTEN = 0x20;
const PENDING = ITEM_STATES.indexOf('pending') + 1;

/** A state's code in an entry's meta (index in ITEM_STATES + 1), looked up once per line rather than searched. */
const STATE_CODES = new Map<ItemState, number>(ITEM_STATES.map((state, i) => [state, i + 1]));
const stateCode = (state: ItemState): number => STATE_CODES.get(state)!;
const stateOf = (meta: number): ItemState => ITEM_STATES[(meta & STATE_MASK) - 1];

/** The journal records another campaign than the one named. */
export class JournalCampaignError extends JournalError {
  readonly reason = 'campaign' as const;
  constructor(
    file: string,
    readonly recorded: string,
    readonly asked: string,
  ) {
    super(file, `belongs to the campaign ${JSON.stringify(recorded)}, not ${JSON.stringify(asked)}; nothing was sent`);
    this.name = 'JournalCampaignError';
  }
}

/** Options of {@link FileLedger.open}. */
export interface FileLedgerOptions {
  /** The campaign's name, for a new journal (default: the file name without its extension); an existing journal must carry the same. */
  campaign?: string;
  /** The list as validated, recorded in the manifest of a new journal (with its recipient domains, for readers such as the dashboard). */
  list?: { listDigest: string; total: number; domains?: DomainPlan };
  /** Remove a lock left in place whoever holds it (the operator has checked that no run uses the journal). */
  breakLock?: boolean;
}

/** What admission found, and whether the id came twice in this run. */
export interface FileAdmission extends Admission {
  /** The id was admitted before in this run: the same item again. */
  duplicate: boolean;
}

interface Live {
  digest: string;
  recipient?: string;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

function defaultCampaign(file: string): string {
  const base = path.basename(file);
  return base.replace(/\.[^.]*$/, '') || base;
}

/** An open file journal. */
export class FileLedger implements Ledger {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private failure: JournalError | null = null;
  private closed = false;
  /** Items admitted and not final: their digest and recipient, which every line carries. */
  private readonly live = new Map<string, Live>();
  /** Bounces recorded beside the journal (bounce-sidecar.ts): a `sent` item with one reads `bounced`. */
  private readonly bounces: BounceSidecar;

  private constructor(
    readonly file: string,
    private readonly handle: fs.FileHandle,
    private readonly lock: JournalLock | null,
    private readonly index: IdTable,
    private current: CampaignManifest,
    /** Bytes of whole lines: where the next line starts. */
    private length: number,
  ) {
    this.bounces = new BounceSidecar(file).refresh();
  }

  /** The state with the sidecar's bounces applied. */
  private withBounce(id: string, state: ItemState): ItemState {
    return state === 'sent' && this.bounces.get(id) !== undefined ? 'bounced' : state;
  }

  /** The manifest: the first line, as amended by later manifest lines. */
  get manifest(): CampaignManifest {
    return this.current;
  }

  get campaign(): string {
    return this.current.campaign;
  }

  /** Set once a write failed; every later write fails with it. */
  get broken(): JournalError | null {
    return this.failure;
  }

  /** How many items the index holds (recorded, or admitted in this run). */
  get size(): number {
    return this.index.size;
  }

  /**
   * Opens (or creates) the journal at `file` for a run: takes its lock, reads
   * and indexes it, cuts a torn tail, and writes the manifest of a new journal.
   * @throws JournalLockError when another run holds it; JournalLineError for a line that is not trusted.
   */
  static async open(file: string, options: FileLedgerOptions = {}): Promise<FileLedger> {
    const lock = await JournalLock.take(file, { breakLock: options.breakLock });
    let handle: fs.FileHandle | undefined;
    try {
      const existed = await fs.stat(file).then(() => true, () => false);
      handle = await fs.open(file, 'a+');
      if (!existed) await syncDirectory(file);
      const { index, manifest, goodLength, total } = await readJournal(file, handle);
      if (goodLength < total) {
        await handle.truncate(goodLength);
        await handle.sync();
      }
      if (manifest && options.campaign !== undefined && options.campaign !== manifest.campaign) {
        throw new JournalCampaignError(file, manifest.campaign, options.campaign);
      }
      const current: CampaignManifest = manifest ?? {
        campaign: options.campaign ?? defaultCampaign(file),
        listDigest: options.list?.listDigest ?? '',
        total: options.list?.total ?? 0,
        createdAt: new Date().toISOString(),
        ...(options.list?.domains ? { domains: options.list.domains } : {}),
      };
      const ledger = new FileLedger(file, handle, lock, index, current, goodLength);
      if (!manifest) await ledger.appendLines([formatManifestLine(current)]);
      return ledger;
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await lock.release();
      if (error instanceof JournalError) throw error;
      throw new JournalError(file, (error as Error).message, { cause: error });
    }
  }

  /**
   * Opens a journal to read only (for `--status`, a dashboard): no lock is
   * taken and nothing is written; a torn tail is ignored, not cut.
   */
  static async openReadOnly(file: string): Promise<FileLedger> {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'r');
      const { index, manifest, goodLength } = await readJournal(file, handle);
      if (!manifest) throw new JournalError(file, 'empty: no campaign recorded yet');
      const ledger = new FileLedger(file, handle, null, index, manifest, goodLength);
      ledger.closed = true;
      return ledger;
    } catch (error) {
      await handle?.close().catch(() => undefined);
      if (error instanceof JournalError) throw error;
      throw new JournalError(file, (error as Error).message, { cause: error });
    }
  }

  /** What the journal knows of `id` with `digest`, without admitting it. */
  check(id: string, digest: string): Admission {
    const entry = this.entryOf(id);
    if (entry < 0) return { match: 'new', state: 'pending' };
    return { match: this.compare(entry, id, digest), state: stateOf(this.index.meta(entry)) };
  }

  /** The index entry of `id`, or -1 when the journal does not know it. */
  private entryOf(id: string): Entry {
    const [h1, h2] = idHash(id);
    return this.index.find(h1, h2);
  }

  private compare(entry: Entry, id: string, digest: string): Admission['match'] {
    if (this.index.digest(entry) === digestKey(digest)) return 'same';
    const line = this.lineOf(entry);
    if (line === null) return 'same';
    if (line.id !== id) throw new LedgerError('damaged', `journal ${this.file}: the ids ${JSON.stringify(id)} and ${JSON.stringify(line.id)} share a hash; give the items other ids`);
    return line.digest === digest ? 'same' : 'changed';
  }

  private lineOf(entry: Entry): ItemLine | null {
    const offset = offsetOf(this.index, entry);
    if (offset === 0) return null;
    const parsed = parseJournalLine(readLineAt(this.handle.fd, offset));
    return typeof parsed === 'object' && parsed.kind === 'item' ? parsed.item : null;
  }

  /**
   * Admits an item of this run: says whether the journal knows it (with the
   * same digest?) and in which state, and whether this run admitted it before.
   * A changed item is left as it is unless `acceptChanged`, which records the
   * new digest (a final item keeps its state under the new digest).
   */
  async admit(id: string, digest: string, recipient?: string, options: { acceptChanged?: boolean; resendUncertain?: boolean } = {}): Promise<FileAdmission> {
    const [h1, h2] = idHash(id);
    const { entry, created } = this.index.insert(h1, h2);
    if (created) {
      this.index.setDigest(entry, digestKey(digest));
      this.index.setMeta(entry, PENDING | SEEN);
      this.live.set(id, { digest, recipient });
      return { match: 'new', state: 'pending', duplicate: false };
    }
    const meta = this.index.meta(entry);
    const state = stateOf(meta);
    if (meta & SEEN) return { match: 'same', state, duplicate: true };
    this.index.setMeta(entry, meta | SEEN);
    const match = this.compare(entry, id, digest);
    if (match === 'changed' && state === 'invalid') {
      // Refused by validation and never sent: the corrected item is a new one.
      this.live.set(id, { digest, recipient });
      return { match: 'new', state: 'pending', duplicate: false };
    }
    if (match === 'changed') {
      if (!options.acceptChanged) return { match, state, duplicate: false };
      if (FINAL_STATES.has(state)) {
        const old = this.lineOf(entry)!;
        // The outcome is an earlier run's: the line only moves it to the new digest.
        await this.append(entry, { ...old, digest, at: new Date().toISOString(), ...(recipient !== undefined ? { recipient } : {}) }, false);
      }
    }
    const again = options.resendUncertain && (state === 'sending' || state === 'uncertain');
    if (!FINAL_STATES.has(state) || state === 'sending' || again) this.live.set(id, { digest, recipient });
    return { match, state, duplicate: false };
  }

  /** Records `sending`; call it just before the end of data goes out. */
  markSending(id: string): Promise<void> {
    return this.step(id, { state: 'sending' });
  }

  /** Records a temporary failure: the item will be tried again. */
  markDeferred(id: string, detail: { code?: number | null; diagnostic?: string; dueMs?: number }): Promise<void> {
    return this.step(id, { state: 'deferred', code: detail.code ?? null, diagnostic: detail.diagnostic, due: detail.dueMs });
  }

  /** Records the final outcome of a try. */
  async markOutcome(id: string, outcome: OutcomeRecord): Promise<void> {
    await this.step(id, { state: outcome.state, code: outcome.code ?? null, diagnostic: outcome.diagnostic, rejected: outcome.rejected, ...(outcome.messageId ? { messageId: outcome.messageId } : {}) });
    this.live.delete(id);
  }

  /**
   * Records that the item's end of data went out with no final reply (in this
   * run, or in an earlier one whose last word was `sending`): it may have been
   * delivered and is not sent again unless asked.
   */
  async markUncertain(id: string): Promise<void> {
    if (this.live.has(id)) {
      await this.step(id, { state: 'uncertain' });
      this.live.delete(id);
      return;
    }
    const entry = this.entryOf(id);
    const line = entry < 0 ? null : this.lineOf(entry);
    if (line === null || line.id !== id) throw new LedgerError('unknown-item', `journal ${this.file}: no record of ${JSON.stringify(id)}`);
    await this.append(entry, { id, digest: line.digest, state: 'uncertain', at: new Date().toISOString(), ...(line.recipient !== undefined ? { recipient: line.recipient } : {}) });
  }

  /** Records an item refused by validation (not sent, never tried). */
  async markInvalid(id: string, digest: string, recipient: string | undefined, diagnostic: string): Promise<void> {
    const [h1, h2] = idHash(id);
    const { entry } = this.index.insert(h1, h2);
    this.index.setMeta(entry, this.index.meta(entry) | SEEN);
    await this.append(entry, { id, digest, state: 'invalid', at: new Date().toISOString(), recipient, diagnostic });
  }

  /** Records an item whose address is on the suppression list (never sent, never tried). */
  async markSuppressed(id: string, digest: string, recipient: string): Promise<void> {
    const [h1, h2] = idHash(id);
    const { entry } = this.index.insert(h1, h2);
    this.index.setMeta(entry, this.index.meta(entry) | SEEN);
    this.live.delete(id);
    await this.append(entry, { id, digest, state: 'suppressed', at: new Date().toISOString(), recipient, code: null, diagnostic: 'on the suppression list' });
  }

  private step(id: string, fields: Omit<ItemLine, 'id' | 'digest' | 'at'>): Promise<void> {
    const live = this.live.get(id);
    if (!live) return Promise.reject(new LedgerError('unknown-item', `journal ${this.file}: ${JSON.stringify(id)} was not admitted in this run (or is final)`));
    const entry = this.entryOf(id);
    return this.append(entry, { id, digest: live.digest, at: new Date().toISOString(), ...(live.recipient !== undefined ? { recipient: live.recipient } : {}), ...fields });
  }

  private append(entry: Entry, item: ItemLine, ours = true): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new JournalError(this.file, 'the journal is closed'));
    const offset = this.length;
    // Known at once, so the rest of the run sees the state it asked for even while the write is pending.
    place(this.index, entry, digestKey(item.digest), item.state, offset, (this.index.meta(entry) & (SEEN | WRITTEN)) | (ours ? WRITTEN : 0));
    return this.appendLines([formatItemLine(item)]);
  }

  /** Appends a manifest line with the list now validated (a resume with an edited list, or a plan of domains an older journal lacks). */
  amendManifest(list: { listDigest: string; total: number; domains?: DomainPlan }): Promise<void> {
    this.current = { ...this.current, ...list };
    return this.appendLines([formatManifestLine(this.current)]);
  }

  private appendLines(lines: string[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new JournalError(this.file, 'the journal is closed'));
    const text = lines.map((l) => l + '\n').join('');
    this.length += Buffer.byteLength(text);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: text, resolve, reject });
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

  /** The record of one item (its latest line, re-read from the file). */
  async lookup(id: string): Promise<LedgerItem | undefined> {
    this.bounces.refresh();
    return this.lookupSync(id);
  }

  /** {@link lookup}, synchronously. */
  lookupSync(id: string): LedgerItem | undefined {
    const entry = this.entryOf(id);
    if (entry < 0) return undefined;
    const line = this.lineOf(entry);
    const state = stateOf(this.index.meta(entry));
    if (line === null || line.id !== id) return undefined;
    const bounce = state === 'sent' ? this.bounces.get(id) : undefined;
    return bounce ? { ...line, state: 'bounced', bounce } : { ...line, state };
  }

  /** True when this run wrote a line for `id` (its state is this run's doing, not an earlier run's). */
  writtenThisRun(id: string): boolean {
    const entry = this.entryOf(id);
    return entry >= 0 && (this.index.meta(entry) & WRITTEN) !== 0;
  }

  /** The state of `id`, from the index alone (`undefined` when unknown). */
  stateOf(id: string): ItemState | undefined {
    const entry = this.entryOf(id);
    return entry < 0 ? undefined : this.withBounce(id, stateOf(this.index.meta(entry)));
  }

  /** Counts by state: `total` is the manifest's (or the items known, when more), `pending` what has no step yet. */
  async counts(): Promise<CampaignCounts> {
    const byCode = new Array<number>(ITEM_STATES.length + 1).fill(0);
    this.index.forEachMeta((meta) => byCode[meta & STATE_MASK]++);
    const total = Math.max(this.current.total, this.index.size);
    const counts = emptyCounts(this.current.campaign, total);
    let recorded = 0;
    ITEM_STATES.forEach((state, i) => {
      if (state === 'pending') return;
      counts[state] = byCode[i + 1];
      recorded += byCode[i + 1];
      if (FINAL_STATES.has(state)) counts.done += byCode[i + 1];
    });
    counts.pending = total - recorded;
    this.bounces.refresh();
    for (const [id] of this.bounces.entries()) {
      const entry = this.entryOf(id);
      if (entry < 0 || stateOf(this.index.meta(entry)) !== 'sent') continue;
      counts.sent--;
      counts.bounced++;
    }
    return counts;
  }

  /** Every recorded item with its latest line, in the order of those lines; `pending` items have no line and are not listed. */
  async *items(filter: { states?: readonly ItemState[] } = {}): AsyncIterable<LedgerItem> {
    const wanted = filter.states ? new Set(filter.states) : null;
    const end = this.length;
    this.bounces.refresh();
    for (const { offset, text } of linesOf(this.handle.fd)) {
      if (offset >= end) break;
      const parsed = parseJournalLine(text);
      if (typeof parsed !== 'object' || parsed.kind !== 'item') continue;
      const entry = this.entryOf(parsed.item.id);
      if (entry < 0 || offsetOf(this.index, entry) !== offset) continue;
      const state = this.withBounce(parsed.item.id, stateOf(this.index.meta(entry)));
      if (wanted && !wanted.has(state)) continue;
      const bounce = state === 'bounced' ? this.bounces.get(parsed.item.id) : undefined;
      yield bounce ? { ...parsed.item, state, bounce } : { ...parsed.item, state };
    }
  }

  /** Waits for pending lines, closes the file and releases the lock. */
  async close(): Promise<void> {
    const wasOpen = !this.closed;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.handle.close().catch(() => undefined);
    if (wasOpen || this.lock) await this.lock?.release();
  }

  /** Releases the lock at once, for a process about to exit without waiting (a second Ctrl-C). */
  releaseLockSync(): void {
    this.lock?.releaseSync();
  }
}

function offsetOf(index: IdTable, entry: Entry): number {
  return index.aux(entry) + (index.meta(entry) >>> 8) * 2 ** 32;
}

/** Points `entry` at its latest line, at `offset` (the low 32 bits in aux, the rest above state and flags in meta). */
function place(index: IdTable, entry: Entry, key: number, state: ItemState, offset: number, flags: number): void {
  index.setDigest(entry, key);
  index.setAux(entry, offset % 2 ** 32);
  index.setMeta(entry, stateCode(state) | flags | (Math.floor(offset / 2 ** 32) << 8));
}

async function readJournal(
  file: string,
  handle: fs.FileHandle,
): Promise<{ index: IdTable; manifest: CampaignManifest | null; goodLength: number; total: number }> {
  const { size } = await handle.stat();
  // About 170 bytes a line and two lines an item: sizes the index; a larger journal's shards grow by half.
  const index = new IdTable({ aux: true, meta: true }, size / 340);
  let manifest: CampaignManifest | null = null;
  const fd = handle.fd;
  const lines = linesOf(fd);
  let lineNumber = 0;
  let goodLength = 0;
  for (;;) {
    const next = lines.next();
    if (next.done) {
      goodLength = next.value;
      break;
    }
    const { offset, text } = next.value;
    lineNumber++;
    const parsed = parseJournalLine(text);
    if (typeof parsed === 'string') throw new JournalLineError(file, lineNumber, parsed);
    if (parsed.kind === 'manifest') {
      if (lineNumber > 1 && manifest && parsed.manifest.campaign !== manifest.campaign) throw new JournalLineError(file, lineNumber, 'a manifest of another campaign');
      manifest = parsed.manifest;
      continue;
    }
    if (lineNumber === 1) throw new JournalLineError(file, 1, 'the first line must be the manifest (campaign, list digest, total); an older tclmail or a hand wrote this journal');
    const item = parsed.item;
    const [h1, h2] = idHash(item.id);
    const { entry, created } = index.insert(h1, h2);
    const key = digestKey(item.digest);
    if (!created && index.digest(entry) !== key) {
      const previous = parseJournalLine(readLineAt(fd, offsetOf(index, entry)));
      if (typeof previous === 'object' && previous.kind === 'item' && previous.item.id !== item.id) {
        throw new JournalLineError(file, lineNumber, `its id shares a hash with ${JSON.stringify(previous.item.id)}`);
      }
    }
    place(index, entry, key, item.state, offset, 0);
  }
  return { index, manifest, goodLength, total: size };
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

/** Opens a file journal read-only, for status pages and `tclmail bulk --status` (no lock taken). */
export function openLedgerForStatus(file: string): Promise<FileLedger> {
  return FileLedger.openReadOnly(file);
}
