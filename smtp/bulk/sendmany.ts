/**
 * `smtp.sendmany`: many messages over a pool of sessions, with a bound on
 * messages in flight, an even pace, retries of temporary failures, and an
 * optional write-ahead journal so that a run killed at any instant can be
 * started again without losing or doubling a message (journal.ts).
 *
 * The run is lazy and pulls: nothing is read from the source or sent before
 * the first outcome is asked for, the source is read only as fast as
 * messages can go out, and outcomes are yielded as messages finish.
 */
import { InvalidInputError, OptionError, type Rejected } from '../../lib/errors';
import { type OptionSpecs, parseOptions, type ParsedOptions, type TclWords } from '../../lib/options';
import type { Token } from '../../mime';
import { abortError, whenAborted } from '../protocol/abort';
import { readSignal } from '../protocol/connect-options';
import { Breaker, isConnectionFailure } from './breaker';
import { IdTable, idHash } from './id-table';
import { identify, plannedMessageId } from './identify';
import { FileLedger } from './journal';
import { ChangedItems, ChangedItemsError } from './ledger';
import { POOL_LIMITS, readPoolOptions, SessionPool } from './pool';
import { backoffDelay, type Backoff, classify, codeOf, Pacer } from './retry';
import type { Plan } from '../sendmessage';
import { SENDMESSAGE_OPTIONS } from '../sendmessage';

export type { BulkItem, BulkOutcome, BulkProgress, SendManyOptions } from './sendmany-types';
import type { BulkItem, BulkOutcome, BulkProgress, SendManyOptions } from './sendmany-types';

const COMMAND = 'smtp.sendmany';

const RUN_OPTIONS: OptionSpecs = {
  concurrency: { kind: 'integer', min: 1 },
  rate: { kind: 'any' },
  retries: { kind: 'integer', min: 0 },
  retryDelay: { kind: 'any' },
  maxRetryDelay: { kind: 'any' },
  journal: { kind: 'any' },
  campaign: { kind: 'string' },
  resendUncertain: { kind: 'boolean' },
  acceptChanged: { kind: 'boolean' },
  breakLock: { kind: 'boolean' },
  giveUpAfter: { kind: 'any' },
  onProgress: { kind: 'function' },
  signal: { kind: 'any' },
};

const SENDMANY_OPTIONS: OptionSpecs = { ...SENDMESSAGE_OPTIONS, ...POOL_LIMITS, ...RUN_OPTIONS };

/** Outcomes kept for a consumer that reads slowly, per message in flight, before the source is read further. */
const BUFFER_PER_SLOT = 16;

/**
 * Messages waiting for their retry, each holding its built message (about
 * 2.5 KB for a short notification), before the source is read further: a
 * relay that answers 4xx to everything (greylisting) would otherwise pull the
 * whole list into memory.
 */
export const MAX_DEFERRED = 2000;

function positive(name: string, value: unknown, fallback: number | undefined, allowZero = false): number | undefined {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < 0 || (!allowZero && number === 0)) {
    throw new OptionError(COMMAND, name, `-${name} expects a positive number, not ${JSON.stringify(value)}`);
  }
  return number;
}

interface Settings {
  concurrency: number;
  pacer: Pacer;
  retries: number;
  backoff: Backoff;
  journal: string | FileLedger | undefined;
  campaign: string | undefined;
  resendUncertain: boolean;
  acceptChanged: boolean;
  breakLock: boolean;
  giveUpAfter: number;
  onProgress: ((progress: BulkProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

/** A message accepted into the run: planned once, so a retry sends the same Date and Message-ID. */
interface Job {
  id: string;
  digest: string;
  token: Token;
  plan: Plan;
  tries: number;
}

interface Deferral {
  job: Job;
  due: number;
}

const END = Symbol('end');

/**
 * A bulk run: an async iterable of outcomes, one per message of the source,
 * in the order they finish. Breaking out of the loop, or `stop()`, stops the
 * run: messages in flight finish (and are journaled), nothing new starts.
 */
export class BulkRun implements AsyncIterableIterator<BulkOutcome> {
  private started = false;
  private finished = false;
  private stopping = false;
  private fatal: unknown = null;
  private fatalReported = false;
  private readonly outcomes: BulkOutcome[] = [];
  /** Calls of next() waiting for an outcome, oldest first. */
  private readonly consumers: Array<{ resolve: (result: IteratorResult<BulkOutcome>) => void; reject: (error: unknown) => void }> = [];
  private changeWaiters: Array<() => void> = [];
  private readonly deferrals: Deferral[] = [];
  private active = 0;
  private sourceDone = false;
  private pulling: Promise<IteratorResult<BulkItem>> | null = null;
  private iterator: Iterator<BulkItem> | AsyncIterator<BulkItem> | null = null;
  private pool: SessionPool | null = null;
  private ledger: FileLedger | null = null;
  /** True when this run opened the ledger (and so closes it). */
  private ownLedger = false;
  /** Ids seen in this run when there is no journal (the journal's index does it otherwise). */
  private readonly seen = new IdTable();
  private readonly breaker: Breaker;
  private pulled = 0;
  private runPromise: Promise<void> | null = null;
  private readonly counts: BulkProgress = { sent: 0, refused: 0, failed: 0, uncertain: 0, duplicate: 0, journaled: 0, inFlight: 0, deferred: 0, retries: 0, done: 0 };

  constructor(
    private readonly source: Iterable<BulkItem> | AsyncIterable<BulkItem>,
    private readonly settings: Settings,
    private readonly poolDefaults: ParsedOptions,
    private readonly poolLimits: ReturnType<typeof readPoolOptions>['limits'],
  ) {
    this.breaker = new Breaker(settings.giveUpAfter);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The counts so far. */
  get progress(): BulkProgress {
    return { ...this.counts, inFlight: this.active, deferred: this.deferrals.length };
  }

  next(): Promise<IteratorResult<BulkOutcome>> {
    if (!this.started) this.start();
    if (this.consumers.length > 0) return new Promise((resolve, reject) => this.consumers.push({ resolve, reject }));
    const value = this.outcomes.shift();
    if (value) {
      this.changed();
      return Promise.resolve({ value, done: false });
    }
    if (this.finished) {
      // Every outcome first, then the error that stopped the run, then the end.
      if (this.fatal !== null && !this.fatalReported) {
        this.fatalReported = true;
        return Promise.reject(this.fatal);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.consumers.push({ resolve, reject }));
  }

  /**
   * Stops starting messages; those in flight finish and are journaled, then
   * the iteration ends. What was not started stays for the next run.
   */
  stop(): void {
    this.stopping = true;
    this.changed();
  }

  /** Stops the run (as {@link stop}) and resolves when the pool and journal are closed. */
  async return(): Promise<IteratorResult<BulkOutcome>> {
    this.stop();
    if (this.runPromise) await this.runPromise;
    return { value: undefined, done: true };
  }

  private start(): void {
    this.started = true;
    const signal = this.settings.signal;
    // The run ends with the AbortError, after the outcomes already produced; the plans carry the signal, so the
    // pool aborts each message in flight before its end of data.
    const stopListening = whenAborted(signal, () => {
      this.fatal ??= abortError(signal!);
      this.stopping = true;
      this.changed();
    });
    this.runPromise = this.run().finally(stopListening);
  }

  /** True when this error is the run's own abort (not an outcome of the message). */
  private aborted(error: unknown): boolean {
    return this.settings.signal?.aborted === true && error instanceof DOMException && error.name === 'AbortError';
  }

  private async run(): Promise<void> {
    try {
      const source = this.source as Partial<AsyncIterable<BulkItem> & Iterable<BulkItem>>;
      if (typeof source[Symbol.asyncIterator] === 'function') this.iterator = source[Symbol.asyncIterator]!();
      else if (typeof source[Symbol.iterator] === 'function') this.iterator = source[Symbol.iterator]!();
      else throw new InvalidInputError('source', 'expected an iterable or an async iterable of messages');
      const journal = this.settings.journal;
      if (journal instanceof FileLedger) this.ledger = journal;
      else if (journal !== undefined) {
        this.ledger = await FileLedger.open(journal, { campaign: this.settings.campaign, breakLock: this.settings.breakLock });
        this.ownLedger = true;
      }
      this.pool = new SessionPool(this.poolDefaults, this.poolLimits);
      // An array can be read twice: check it whole, so that a changed item refuses the run before anything is sent.
      if (this.ledger && !this.settings.acceptChanged && Array.isArray(this.source)) this.preflight(this.source as BulkItem[]);
      await Promise.all(Array.from({ length: this.settings.concurrency }, () => this.worker()));
    } catch (error) {
      this.fatal ??= error;
    } finally {
      this.stopping = true;
      if (!this.sourceDone && this.iterator?.return) {
        try {
          await this.iterator.return();
        } catch {
          // The source's own clean-up failing does not change what was sent.
        }
      }
      await this.pool?.close();
      if (this.ownLedger) await this.ledger?.close();
      this.finished = true;
      this.deliverToConsumer();
    }
  }

  /** Every item of an array source against the journal: changed ones refuse the run. */
  private preflight(items: readonly BulkItem[]): void {
    const changed = new ChangedItems();
    items.forEach((item, i) => {
      let known;
      try {
        known = identify(item, `#${i + 1}`, this.poolDefaults, this.pool!);
      } catch {
        return; // reported as failed when its turn comes
      }
      if (known.id !== undefined && this.ledger!.check(known.id, known.digest).match === 'changed') changed.add(known.id);
    });
    changed.check(this.ledger!.campaign);
  }

  private async worker(): Promise<void> {
    try {
      for (;;) {
        const job = await this.nextJob();
        if (!job) return;
        await this.attempt(job);
      }
    } catch (error) {
      // A failing source: the other workers finish what they hold, then the run ends with this error.
      this.fatal ??= error;
      this.stopping = true;
      this.changed();
    }
  }

  /** The next message to try: a deferred one that is due, else the next from the source; null when the run is over. */
  private async nextJob(): Promise<Job | null> {
    for (;;) {
      if (this.stopping || this.fatal !== null) return null;
      const tripped = this.breaker.tripped();
      if (tripped) {
        this.fatal ??= tripped;
        this.stopping = true;
        this.changed();
        return null;
      }
      const now = Date.now();
      let earliest = -1;
      for (let i = 0; i < this.deferrals.length; i++) {
        if (earliest < 0 || this.deferrals[i].due < this.deferrals[earliest].due) earliest = i;
      }
      if (earliest >= 0 && this.deferrals[earliest].due <= now) return this.deferrals.splice(earliest, 1)[0].job;
      // While the relay looks dead, one message at a time probes it; the rest of the source waits.
      const probing = this.breaker.suspect && (this.deferrals.length > 0 || this.active > 0);
      const room = this.outcomes.length < BUFFER_PER_SLOT * this.settings.concurrency && this.deferrals.length < MAX_DEFERRED;
      if (!probing && !this.sourceDone && room) {
        const item = await this.pull();
        if (item === END) continue;
        const job = await this.admit(item);
        if (job) return job;
        continue;
      }
      if (this.sourceDone && this.deferrals.length === 0 && this.active === 0) {
        this.changed(); // the other workers can see it is over
        return null;
      }
      const waits = [earliest >= 0 ? this.deferrals[earliest].due - now : undefined, this.breaker.remainingMs].filter((w): w is number => w !== undefined);
      await this.waitForChange(waits.length > 0 ? Math.min(...waits) : undefined);
    }
  }

  /** One item from the source; the source is read by one worker at a time. */
  private async pull(): Promise<BulkItem | typeof END> {
    while (this.pulling) await this.pulling.catch(() => undefined);
    if (this.sourceDone) return END;
    const reading = (async () => this.iterator!.next())();
    this.pulling = reading;
    try {
      const result = await reading;
      if (result.done) {
        this.sourceDone = true;
        return END;
      }
      this.pulled++;
      return result.value;
    } catch (error) {
      this.sourceDone = true;
      throw error;
    } finally {
      this.pulling = null;
    }
  }

  /** Plans a message and checks the journal: a job to send, or null when its outcome is already known. */
  private async admit(item: BulkItem): Promise<Job | null> {
    const ordinal = `#${this.pulled}`;
    let known: ReturnType<typeof identify>;
    try {
      known = identify(item, ordinal, this.poolDefaults, this.pool!);
    } catch (error) {
      const id = typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : ordinal;
      this.emit({ id, status: 'failed', rejected: [], error: error as Error, attempts: 0, journaled: false });
      return null;
    }
    const { token, plan, digest } = known;
    let id = known.id;
    if (id === undefined) {
      if (this.ledger) {
        const error = new InvalidInputError('id', `item ${ordinal} has no id and no Message-ID: a journal needs an id that stays the same from run to run`);
        this.emit({ id: ordinal, status: 'failed', rejected: [], error, attempts: 0, journaled: false });
        return null;
      }
      id = plannedMessageId(plan) ?? ordinal;
    }
    const ledger = this.ledger;
    if (!ledger) {
      const [h1, h2] = idHash(id);
      if (!this.seen.insert(h1, h2).created) return this.duplicate(id);
      return { id, digest, token, plan, tries: 0 };
    }
    const admission = await ledger.admit(id, digest, known.recipient, { acceptChanged: this.settings.acceptChanged, resendUncertain: this.settings.resendUncertain });
    if (admission.duplicate) return this.duplicate(id);
    if (admission.match === 'changed' && !this.settings.acceptChanged) {
      // Read as it comes, the source cannot be checked whole first: stop before anything more is sent.
      this.fatal ??= new ChangedItemsError(ledger.campaign, [id], 1);
      this.stopping = true;
      this.changed();
      return null;
    }
    const state = admission.state;
    if (state === 'sent' || state === 'refused' || state === 'failed' || state === 'invalid' || state === 'suppressed' || state === 'bounced') {
      const status = state === 'sent' || state === 'bounced' ? 'sent' : state === 'refused' ? 'refused' : 'failed';
      const record = state === 'sent' ? undefined : ledger.lookupSync(id);
      const rejected = record?.rejected ?? [];
      const error = status === 'sent' ? null : new Error(record?.diagnostic ?? `${status} in an earlier run`);
      this.emit({ id, status, rejected, error, attempts: 0, journaled: true });
      return null;
    }
    if ((state === 'sending' || state === 'uncertain') && !this.settings.resendUncertain) {
      if (state === 'sending') await ledger.markUncertain(id);
      const error = new Error('an earlier run sent the end of data and recorded no reply: the message may have been delivered');
      this.emit({ id, status: 'uncertain', rejected: [], error, attempts: 0, journaled: true });
      return null;
    }
    return { id, digest, token, plan, tries: 0 };
  }

  private duplicate(id: string): null {
    const error = new InvalidInputError('id', `${JSON.stringify(id)} came earlier in the source: one item, sent once`);
    this.emit({ id, status: 'duplicate', rejected: [], error, attempts: 0, journaled: false });
    return null;
  }

  /** One try of one message, and what follows from it: an outcome, or a deferral. */
  private async attempt(job: Job): Promise<void> {
    this.active++;
    try {
      await this.settings.pacer.take();
      job.tries++;
      const ledger = this.ledger;
      let announced = false;
      const beforeEndOfData = ledger
        ? async (): Promise<void> => {
            if (announced) return;
            await ledger.markSending(job.id);
            announced = true;
          }
        : undefined;
      try {
        const rejected = await this.pool!.deliver(job.token, job.plan, { beforeEndOfData });
        this.breaker.alive();
        await ledger?.markOutcome(job.id, { state: 'sent', code: 250, rejected, messageId: plannedMessageId(job.plan) ?? undefined });
        this.emit({ id: job.id, status: 'sent', rejected, error: null, attempts: job.tries, journaled: false });
      } catch (error) {
        if (ledger?.broken) throw ledger.broken;
        if (this.aborted(error)) {
          // Cancelled before its end of data: not an outcome. The journal keeps it for the next run.
          if (announced) await ledger!.markDeferred(job.id, { diagnostic: 'the run was aborted before the end of data' });
          return;
        }
        const verdict = classify(error);
        const rejected = (error as { rejected?: Rejected[] }).rejected ?? [];
        const connection = isConnectionFailure(error);
        if (connection) this.breaker.failed(error);
        else this.breaker.alive();
        if (verdict === 'uncertain') {
          if (announced) await ledger!.markUncertain(job.id);
          this.emit({ id: job.id, status: 'uncertain', rejected, error: error as Error, attempts: job.tries, journaled: false });
          return;
        }
        if (verdict === 'temporary' && this.stopping) {
          // The run is being stopped: leave the message to the next run, as if it had never been tried.
          if (announced) await ledger!.markDeferred(job.id, { code: codeOf(error), diagnostic: (error as Error).message });
          return;
        }
        // While the relay looks dead, a refused connection says nothing of this message: it keeps its retries.
        if (verdict === 'temporary' && connection && this.breaker.suspect) job.tries--;
        if (verdict === 'temporary' && job.tries <= this.settings.retries) {
          const due = Date.now() + backoffDelay(Math.max(1, job.tries), this.settings.backoff);
          if (announced) await ledger!.markDeferred(job.id, { code: codeOf(error), diagnostic: (error as Error).message, dueMs: due });
          this.counts.retries++;
          this.deferrals.push({ job, due });
          this.report();
          return;
        }
        const status = verdict === 'refused' ? 'refused' : 'failed';
        const code = codeOf(error) ?? (rejected[0]?.[1] ?? null);
        await ledger?.markOutcome(job.id, { state: status, code, diagnostic: (error as Error)?.message ?? String(error), rejected });
        this.emit({ id: job.id, status, rejected, error: error as Error, attempts: job.tries, journaled: false });
      }
    } catch (error) {
      this.fatal ??= error;
      this.stopping = true;
    } finally {
      this.active--;
      this.changed();
    }
  }

  private emit(outcome: BulkOutcome): void {
    this.counts[outcome.status]++;
    if (outcome.journaled) this.counts.journaled++;
    this.counts.done++;
    this.outcomes.push(outcome);
    this.report();
    this.deliverToConsumer();
  }

  private report(): void {
    if (!this.settings.onProgress) return;
    try {
      this.settings.onProgress(this.progress);
    } catch (error) {
      this.fatal ??= error;
      this.stopping = true;
    }
  }

  private deliverToConsumer(): void {
    while (this.consumers.length > 0) {
      const value = this.outcomes.shift();
      if (value) {
        this.consumers.shift()!.resolve({ value, done: false });
        this.changed();
      } else if (this.finished && this.fatal !== null && !this.fatalReported) {
        this.fatalReported = true;
        this.consumers.shift()!.reject(this.fatal);
      } else if (this.finished) {
        this.consumers.shift()!.resolve({ value: undefined, done: true });
      } else return;
    }
  }

  private changed(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
  }

  private waitForChange(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(wake, Math.max(0, timeoutMs));
      this.changeWaiters.push(wake);
    });
  }
}

/**
 * Sends many messages over pooled sessions and yields an outcome per message
 * as each finishes. `source` is an iterable or async iterable of mime tokens
 * or `{ token, options, id, digest }`; the options are sendmessage's and the
 * pool's (defaults for every message), plus `concurrency`, `rate`, `retries`,
 * `retryDelay`, `maxRetryDelay`, `journal`, `campaign`, `resendUncertain`,
 * `acceptChanged`, `breakLock`, `giveUpAfter`, `onProgress` and `signal`
 * (docs/bulk.md). Nothing is sent until the result is iterated.
 *
 * Tcllib has no bulk sender: a Tcl script loops over `smtp::sendmessage`.
 * ```tcl
 * foreach tok $messages { smtp::sendmessage $tok -servers mx1 }
 * ```
 * ```ts
 * for await (const o of smtp.sendmany(messages, { servers: ['mx1'], concurrency: 8, rate: 50, journal: 'run.jsonl' })) {
 *   if (o.status !== 'sent') console.error(o.id, o.status, o.error?.message);
 * }
 * // or as the Tcl words: smtp.sendmany(messages, '-servers', ['mx1'], '-concurrency', 8)
 * ```
 * @throws OptionError for a bad option, at once. A journal that cannot be
 *   opened, written or locked makes the iteration throw a JournalError; a
 *   changed item a ChangedItemsError (before anything is sent, for an array);
 *   a dead relay a CircuitOpenError; an aborted `signal` an AbortError (DOMException).
 */
export function sendmany(source: Iterable<BulkItem> | AsyncIterable<BulkItem>, options?: SendManyOptions): BulkRun;
export function sendmany(source: Iterable<BulkItem> | AsyncIterable<BulkItem>, ...flat: TclWords): BulkRun;
export function sendmany(source: Iterable<BulkItem> | AsyncIterable<BulkItem>, ...args: unknown[]): BulkRun {
  const o = parseOptions(COMMAND, SENDMANY_OPTIONS, args);
  const concurrency = (o.concurrency as number | undefined) ?? 5;
  const { limits, messageDefaults } = readPoolOptions(o, { maxConnections: concurrency });
  const settings: Settings = {
    concurrency,
    pacer: new Pacer(positive('rate', o.rate, undefined)),
    retries: (o.retries as number | undefined) ?? 3,
    backoff: {
      initialSecs: positive('retryDelay', o.retryDelay, 5, true) as number,
      maxSecs: positive('maxRetryDelay', o.maxRetryDelay, 300, true) as number,
    },
    journal: o.journal as string | FileLedger | undefined,
    campaign: o.campaign as string | undefined,
    resendUncertain: (o.resendUncertain as boolean | undefined) ?? false,
    acceptChanged: (o.acceptChanged as boolean | undefined) ?? false,
    breakLock: (o.breakLock as boolean | undefined) ?? false,
    giveUpAfter: positive('giveUpAfter', o.giveUpAfter, 60, true) as number,
    onProgress: o.onProgress as ((progress: BulkProgress) => void) | undefined,
    signal: readSignal(COMMAND, o.signal),
  };
  if (settings.journal !== undefined && !(settings.journal instanceof FileLedger) && (typeof settings.journal !== 'string' || settings.journal === '')) {
    throw new OptionError(COMMAND, 'journal', `-journal expects a file path or an open FileLedger, not ${JSON.stringify(settings.journal)}`);
  }
  return new BulkRun(source, settings, messageDefaults, limits);
}
