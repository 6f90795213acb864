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
import { getHeaderFields, isToken, type Token } from '../../mime';
import { Journal } from './journal';
import { mergeOptions, POOL_LIMITS, type PoolOptions, readPoolOptions, SessionPool } from './pool';
import { backoffDelay, type Backoff, classify, Pacer } from './retry';
import type { Plan, SendMessageOptions } from '../sendmessage';
import { SENDMESSAGE_OPTIONS } from '../sendmessage';

/** One message of the source: a token, or a token with its own options and id. */
export type BulkItem = Token | { token: Token; options?: SendMessageOptions; id?: string };

/** What became of one message. */
export interface BulkOutcome {
  /** The caller's id, else the message's Message-ID. */
  id: string;
  /**
   * `sent`: accepted (for some recipients at least; see `rejected`).
   * `refused`: the server refused the sender, the recipients or the message for good (5xx).
   * `failed`: not sent: bad input, retries used up, no server reachable, TLS or AUTH failure.
   * `uncertain`: the end of data went out and no final reply came back; it may have been delivered.
   */
  status: 'sent' | 'refused' | 'failed' | 'uncertain';
  /** Refused recipients `[address, code, diagnostic]`, as smtp.sendmessage returns them (or its error carries them). */
  rejected: Rejected[];
  /** Why the message was not sent (or may not have been); null when sent. */
  error: Error | null;
  /** How many times this run tried to send it (0 when the journal settled it). */
  attempts: number;
  /** True when the outcome comes from the journal of an earlier run, not from this one. */
  journaled: boolean;
}

/** Counts so far, given to `onProgress` after every outcome and every deferral. */
export interface BulkProgress {
  sent: number;
  refused: number;
  failed: number;
  uncertain: number;
  /** Outcomes taken from the journal (counted in the four above as well). */
  journaled: number;
  /** Messages being sent now. */
  inFlight: number;
  /** Messages waiting to be tried again. */
  deferred: number;
  /** Retries made so far. */
  retries: number;
  /** Outcomes so far. */
  done: number;
}

/** Options of {@link sendmany}: every pool option (defaults for every message) and the run's own. */
export interface SendManyOptions extends PoolOptions {
  /** Messages in flight at once. Default 5; `maxConnections` defaults to it. */
  concurrency?: number;
  /** Messages started per second, evenly spaced (retries count). Default: no limit. */
  rate?: number;
  /** How many times a temporary failure is tried again. Default 3. */
  retries?: number;
  /** Seconds before the first retry; doubled for each further one, with jitter. Default 5. */
  retryDelay?: number;
  /** The longest wait between tries, in seconds. Default 300. */
  maxRetryDelay?: number;
  /** Path of the write-ahead journal (JSON Lines). Without it, nothing is recorded. */
  journal?: string;
  /** Send again the messages the journal shows as uncertain (they may then arrive twice). Default false. */
  resendUncertain?: boolean;
  /** Called with the counts after every outcome and every deferral. */
  onProgress?: (progress: BulkProgress) => void;
}

const COMMAND = 'smtp.sendmany';

const RUN_OPTIONS: OptionSpecs = {
  concurrency: { kind: 'integer', min: 1 },
  rate: { kind: 'any' },
  retries: { kind: 'integer', min: 0 },
  retryDelay: { kind: 'any' },
  maxRetryDelay: { kind: 'any' },
  journal: { kind: 'string' },
  resendUncertain: { kind: 'boolean' },
  onProgress: { kind: 'function' },
};

const SENDMANY_OPTIONS: OptionSpecs = { ...SENDMESSAGE_OPTIONS, ...POOL_LIMITS, ...RUN_OPTIONS };

/** Outcomes kept for a consumer that reads slowly, per message in flight, before the source is read further. */
const BUFFER_PER_SLOT = 16;

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
  journal: string | undefined;
  resendUncertain: boolean;
  onProgress: ((progress: BulkProgress) => void) | undefined;
}

/** A message accepted into the run: planned once, so a retry sends the same Date and Message-ID. */
interface Job {
  id: string;
  token: Token;
  plan: Plan;
  tries: number;
}

interface Deferral {
  job: Job;
  due: number;
}

const END = Symbol('end');

function headerValue(fields: ReadonlyArray<readonly [string, unknown]>, name: string): string | undefined {
  for (const [key, value] of fields) if (key.toLowerCase() === name && typeof value === 'string') return value.trim();
  return undefined;
}

/**
 * A bulk run: an async iterable of outcomes, one per message of the source,
 * in the order they finish. Breaking out of the loop stops the run: messages
 * in flight finish (and are journaled), nothing new starts.
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
  private journal: Journal | null = null;
  private readonly seen = new Set<string>();
  private pulled = 0;
  private runPromise: Promise<void> | null = null;
  private readonly counts: BulkProgress = { sent: 0, refused: 0, failed: 0, uncertain: 0, journaled: 0, inFlight: 0, deferred: 0, retries: 0, done: 0 };

  constructor(
    private readonly source: Iterable<BulkItem> | AsyncIterable<BulkItem>,
    private readonly settings: Settings,
    private readonly poolDefaults: ParsedOptions,
    private readonly poolLimits: ReturnType<typeof readPoolOptions>['limits'],
  ) {}

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

  /** Stops the run: nothing new starts, messages in flight finish. Resolves when the pool and journal are closed. */
  async return(): Promise<IteratorResult<BulkOutcome>> {
    this.stopping = true;
    this.changed();
    if (this.runPromise) await this.runPromise;
    return { value: undefined, done: true };
  }

  private start(): void {
    this.started = true;
    this.runPromise = this.run();
  }

  private async run(): Promise<void> {
    try {
      const source = this.source as Partial<AsyncIterable<BulkItem> & Iterable<BulkItem>>;
      if (typeof source[Symbol.asyncIterator] === 'function') this.iterator = source[Symbol.asyncIterator]!();
      else if (typeof source[Symbol.iterator] === 'function') this.iterator = source[Symbol.iterator]!();
      else throw new InvalidInputError('source', 'expected an iterable or an async iterable of messages');
      if (this.settings.journal !== undefined) this.journal = await Journal.open(this.settings.journal);
      this.pool = new SessionPool(this.poolDefaults, this.poolLimits);
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
      await this.journal?.close();
      this.finished = true;
      this.deliverToConsumer();
    }
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
      const now = Date.now();
      let earliest = -1;
      for (let i = 0; i < this.deferrals.length; i++) {
        if (earliest < 0 || this.deferrals[i].due < this.deferrals[earliest].due) earliest = i;
      }
      if (earliest >= 0 && this.deferrals[earliest].due <= now) return this.deferrals.splice(earliest, 1)[0].job;
      if (!this.sourceDone && this.outcomes.length < BUFFER_PER_SLOT * this.settings.concurrency) {
        const item = await this.pull();
        if (item === END) continue;
        const job = this.admit(item);
        if (job) return job;
        continue;
      }
      if (this.sourceDone && this.deferrals.length === 0 && this.active === 0) {
        this.changed(); // the other workers can see it is over
        return null;
      }
      await this.waitForChange(earliest >= 0 ? this.deferrals[earliest].due - now : undefined);
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
  private admit(item: BulkItem): Job | null {
    const ordinal = `#${this.pulled}`;
    let token: Token;
    let own: ParsedOptions = {};
    let givenId: string | undefined;
    let plan: Plan;
    let merged: ParsedOptions;
    try {
      if (isToken(item)) token = item;
      else if (typeof item === 'object' && item !== null && isToken((item as { token?: unknown }).token)) {
        const entry = item as { token: Token; options?: SendMessageOptions; id?: unknown };
        token = entry.token;
        if (entry.options !== undefined) own = parseOptions('smtp.sendmessage', SENDMESSAGE_OPTIONS, [entry.options]);
        if (entry.id !== undefined) {
          if (typeof entry.id !== 'string' || entry.id === '') throw new InvalidInputError('id', 'a message id must be a non-empty string');
          givenId = entry.id;
        }
      } else throw new InvalidInputError('source', `item ${ordinal} is neither a mime token nor { token, options, id }`);
      merged = mergeOptions(this.poolDefaults, own);
      plan = this.pool!.plan(token, own);
    } catch (error) {
      this.emit({ id: givenId ?? ordinal, status: 'failed', rejected: [], error: error as Error, attempts: 0, journaled: false });
      return null;
    }

    // The id must name the same message in the next run: the caller's, or a Message-ID the message carries.
    let id =
      givenId ??
      headerValue((merged.header as Array<[string, unknown]> | undefined) ?? [], 'message-id') ??
      headerValue(getHeaderFields(token).map((f): [string, string] => [f.name, f.value]), 'message-id');
    if (id === undefined) {
      if (this.journal) {
        const error = new InvalidInputError('id', `item ${ordinal} has no id and no Message-ID: a journal needs an id that stays the same from run to run`);
        this.emit({ id: ordinal, status: 'failed', rejected: [], error, attempts: 0, journaled: false });
        return null;
      }
      id = headerValue(plan.envelope.addHeaders, 'message-id') ?? ordinal;
    }
    if (this.journal) {
      if (this.seen.has(id)) {
        const error = new InvalidInputError('id', `${JSON.stringify(id)} appears twice in the source: the journal could not tell them apart`);
        this.emit({ id, status: 'failed', rejected: [], error, attempts: 0, journaled: false });
        return null;
      }
      this.seen.add(id);
      const entry = this.journal.entry(id);
      if (entry && (entry.state === 'sent' || entry.state === 'refused' || entry.state === 'failed')) {
        const error = entry.state === 'sent' ? null : new Error(entry.error?.message ?? `${entry.state} in an earlier run`);
        this.emit({ id, status: entry.state, rejected: entry.rejected, error, attempts: 0, journaled: true });
        return null;
      }
      if (entry?.state === 'sending' && !this.settings.resendUncertain) {
        const error = new Error('an earlier run sent the end of data and recorded no reply: the message may have been delivered');
        this.emit({ id, status: 'uncertain', rejected: [], error, attempts: 0, journaled: true });
        return null;
      }
    }
    return { id, token, plan, tries: 0 };
  }

  /** One try of one message, and what follows from it: an outcome, or a deferral. */
  private async attempt(job: Job): Promise<void> {
    this.active++;
    try {
      await this.settings.pacer.take();
      job.tries++;
      const journal = this.journal;
      let announced = false;
      const beforeEndOfData = journal
        ? async (): Promise<void> => {
            if (announced) return;
            await journal.sending(job.id);
            announced = true;
          }
        : undefined;
      try {
        const rejected = await this.pool!.deliver(job.token, job.plan, { beforeEndOfData });
        await journal?.outcome(job.id, 'sent', { rejected });
        this.emit({ id: job.id, status: 'sent', rejected, error: null, attempts: job.tries, journaled: false });
      } catch (error) {
        if (journal?.broken) throw journal.broken;
        const verdict = classify(error);
        const rejected = (error as { rejected?: Rejected[] }).rejected ?? [];
        if (verdict === 'uncertain') {
          // The `sending` line stays the last word on it: a restart reports it uncertain too.
          this.emit({ id: job.id, status: 'uncertain', rejected, error: error as Error, attempts: job.tries, journaled: false });
          return;
        }
        if (verdict === 'temporary' && this.stopping) {
          // The run is being stopped: leave the message to the next run, as if it had never been tried.
          if (announced) await journal!.deferred(job.id, error);
          return;
        }
        if (verdict === 'temporary' && job.tries <= this.settings.retries) {
          if (announced) await journal!.deferred(job.id, error);
          this.counts.retries++;
          this.deferrals.push({ job, due: Date.now() + backoffDelay(job.tries, this.settings.backoff) });
          this.report();
          return;
        }
        const status = verdict === 'refused' ? 'refused' : 'failed';
        await journal?.outcome(job.id, status, { rejected, error });
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
 * or `{ token, options, id }`; the options are sendmessage's and the pool's
 * (defaults for every message), plus `concurrency`, `rate`, `retries`,
 * `retryDelay`, `maxRetryDelay`, `journal`, `resendUncertain` and
 * `onProgress` (docs/bulk.md). Nothing is sent until the result is iterated.
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
 *   opened, written or locked makes the iteration throw a JournalError.
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
    journal: o.journal as string | undefined,
    resendUncertain: (o.resendUncertain as boolean | undefined) ?? false,
    onProgress: o.onProgress as ((progress: BulkProgress) => void) | undefined,
  };
  if (settings.journal === '') throw new OptionError(COMMAND, 'journal', '-journal expects a file path, not ""');
  return new BulkRun(source, settings, messageDefaults, limits);
}
