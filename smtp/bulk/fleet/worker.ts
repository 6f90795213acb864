/**
 * A fleet worker: a BullMQ Worker on the fleet's queue, sending for every
 * campaign in that Redis. Each job carries a batch of item ids; for each item
 * the worker claims it (a Lua script), renders it, takes a token from the
 * campaign's rate bucket, records `sending` (durably) just before the end of
 * data, and records the outcome. Temporary failures wait in the campaign's due
 * set and come back on any worker after their back-off.
 *
 * `concurrency` counts messages in flight on this worker, pipelined ones
 * included, so a worker killed at any instant leaves at most that many items
 * `uncertain`. The worker's lease key says it is alive; when it runs out
 * (killed, paused, cut off), its claims may be taken by other workers.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { OptionError, type Rejected } from '../../../lib/errors';
import { type OptionSpecs, parseOptions } from '../../../lib/options';
import { verpAddress } from '../../../bounce/verp';
import { isToken, setheader, type Token } from '../../../mime';
import { SENDMESSAGE_OPTIONS } from '../../sendmessage';
import { POOL_LIMITS, type PoolOptions, readPoolOptions, SessionPool } from '../pool';
import { backoffDelay, type Backoff, classify, codeOf } from '../retry';
import { type CampaignRecord, loadCampaign } from './campaign';
import { CLIENT, openRedis, quit, type RedisConnection } from './connection';
import { loadBullmq } from './deps';
import { checkDurability, type DurabilityReport } from './durability';
import { FleetError, LedgerWriteError } from './errors';
import { CampaignKeys, campaignsKey, DEFAULT_PREFIX, QUEUE_NAME, QUEUE_PREFIX, workerKey } from './keys';
import { RateGate } from './rate';
import { type ClaimedItem, RedisLedger } from './redis-ledger';
import { type Rendered, type RenderHook, renderRawTemplate } from './render';
import { isRedisSuppressed } from '../redis-bounces';
import { unsubscribeHeaders } from '../unsubscribe';
import { type FleetRedis, withScripts } from './scripts';
import { Slots } from './slots';

/** Options of {@link startWorker}: every pool option (servers, ports, TLS, AUTH, ...) and the worker's own. */
export interface WorkerOptions extends PoolOptions {
  /** Where Redis is. */
  connection: RedisConnection;
  /** Messages in flight on this worker, pipelined ones included. Default 5; `maxConnections` defaults to it. */
  concurrency?: number;
  /** Makes each item's message. Default: the template is a raw message with `{{field}}` placeholders (renderRawTemplate). */
  render?: RenderHook;
  /** How many times a temporary failure is tried again. Default 3. */
  retries?: number;
  /** Seconds before the first retry; doubled for each further one, with jitter. Default 5. */
  retryDelay?: number;
  /** The longest wait between tries, in seconds. Default 300. */
  maxRetryDelay?: number;
  /** Start even when Redis does not persist every write (a Redis crash can then resend messages). Default false. */
  allowUnsafeRedis?: boolean;
  /**
   * Seconds a worker's claims and job locks last without renewal (renewed every third of it). A worker
   * paused or cut off longer loses its claims to other workers. Default 30.
   */
  leaseSecs?: number;
  /** Seconds between checks for jobs whose worker stopped (BullMQ's stalled check). Default: leaseSecs. */
  stalledSecs?: number;
  /** Milliseconds between looks for deferred items that are due. Default 500. */
  pollMs?: number;
  /** Key prefix of the fleet's own keys. Default `tclmail:`. */
  prefix?: string;
  /** This worker's name in claim tokens and logs (letters, digits, `.`, `_`, `-`). Default host-pid-random. */
  workerId?: string;
  /**
   * The secret of the one-click unsubscribe tokens (at least 16 bytes), for campaigns enqueued with an
   * unsubscribe URL. It stays with the workers and is never stored in Redis; a worker without it defers
   * such a campaign's items (an `error` event says why), so a worker that has it sends them.
   */
  unsubscribeSecret?: string | Uint8Array;
  /** Called for every outcome and every lost claim (for logs and metrics). Must not throw. */
  onEvent?: (event: WorkerEvent) => void;
}

/** What a worker reports as it goes. */
export type WorkerEvent =
  | { type: 'outcome'; campaign: string; id: string; state: 'sent' | 'refused' | 'failed' | 'uncertain'; attempts: number; code: number | null; diagnostic: string; rejected: Rejected[] }
  | { type: 'deferred'; campaign: string; id: string; attempts: number; code: number | null; diagnostic: string; dueMs: number }
  /** The recipient is on the fleet's suppression list (a hard bounce, a complaint, an unsubscribe): recorded `suppressed`, never sent. */
  | { type: 'suppressed'; campaign: string; id: string }
  /** The ledger refused a write: another worker holds the item now (this one lost its claim) or it is final. Nothing was sent by this try. */
  | { type: 'lost'; campaign: string; id: string; /** What Redis answered: `not-holder`, `state:<state>`. */ reason: string }
  /** Something went wrong outside one item (a job, the due poller); the worker carries on. */
  | { type: 'error'; error: Error };

/** Counts since the worker started. */
export interface WorkerStats {
  sent: number;
  refused: number;
  failed: number;
  uncertain: number;
  deferred: number;
  suppressed: number;
  lost: number;
  /** Messages in flight now. */
  inFlight: number;
}

/** A running worker. */
export interface FleetWorker {
  readonly id: string;
  /** What the durability check found (null when it was skipped by allowUnsafeRedis and failed). */
  readonly durability: DurabilityReport | null;
  stats(): WorkerStats;
  /**
   * Stops gracefully: no new message starts; messages in flight finish and are
   * recorded; items claimed and not started are handed back (their jobs go back
   * to the queue); then the connections close. Resolves when all is done.
   */
  close(): Promise<void>;
}

const COMMAND = 'tclmail.fleet.startWorker';

const WORKER_OPTIONS: OptionSpecs = {
  ...SENDMESSAGE_OPTIONS,
  ...POOL_LIMITS,
  connection: { kind: 'any' },
  concurrency: { kind: 'integer', min: 1 },
  render: { kind: 'function' },
  retries: { kind: 'integer', min: 0 },
  retryDelay: { kind: 'any' },
  maxRetryDelay: { kind: 'any' },
  allowUnsafeRedis: { kind: 'boolean' },
  leaseSecs: { kind: 'any' },
  stalledSecs: { kind: 'any' },
  pollMs: { kind: 'integer', min: 10 },
  prefix: { kind: 'string' },
  workerId: { kind: 'string' },
  unsubscribeSecret: { kind: 'any' },
  onEvent: { kind: 'function' },
};

const OWN = new Set(Object.keys(WORKER_OPTIONS).filter((name) => !(name in SENDMESSAGE_OPTIONS) && !(name in POOL_LIMITS)));

function seconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0) {
    throw new OptionError(COMMAND, name, `-${name} expects a positive number of seconds, not ${JSON.stringify(value)}`);
  }
  return number;
}

function readSecret(value: unknown): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new OptionError(COMMAND, 'unsubscribeSecret', '-unsubscribeSecret expects a string or bytes');
  const secret = Buffer.from(value);
  // unsubscribeHeaders checks the length and says what it needs.
  unsubscribeHeaders({ url: 'https://example.org/u', secret, id: 'x', address: 'check@example.org' });
  return secret;
}

/** What a job carries. */
interface JobData {
  c: string;
  ids: string[];
}

/** How long a worker trusts a campaign record it read before reading it again (pause, rate). */
const RECORD_TTL_MS = 1000;

/** How long a stopping worker waits for BullMQ's close, and for Redis to take its last write, once its own work is over. */
const CLOSE_GRACE_MS = 5000;

/** True when `promise` settles within `ms` (a rejection counts as settled). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a BullMQ worker's close does after the wait it is stuck in (bullmq#4656):
 * stop its lock renewal and stalled-job timers and disconnect its blocking
 * client, whose reconnect timer would otherwise keep the process alive.
 * BullMQ keeps these out of its API; this reaches them where BullMQ 6 keeps
 * them, and does nothing where they are not. Called only once this worker's
 * own jobs are over, so no lock it renews is still needed.
 */
function abandonBull(worker: unknown): void {
  const inside = worker as {
    lockManager?: { close?: () => Promise<void> };
    stalledCheckStopper?: () => void;
    backend?: { blockingConnection?: { client?: Promise<Redis> } };
  } | null;
  inside?.lockManager?.close?.().catch(() => undefined);
  inside?.stalledCheckStopper?.();
  void inside?.backend?.blockingConnection?.client?.then(
    (client) => client.disconnect(),
    () => undefined,
  );
}

/** How long the job of a paused campaign waits before it is looked at again. */
const PAUSED_RETRY_MS = 5000;

class Worker implements FleetWorker {
  readonly id: string;
  durability: DurabilityReport | null = null;
  private readonly slots: Slots;
  private readonly gate: RateGate;
  private readonly pool: SessionPool;
  private readonly leaseMs: number;
  private readonly counts = { sent: 0, refused: 0, failed: 0, uncertain: 0, deferred: 0, suppressed: 0, lost: 0 };
  private readonly records = new Map<string, { record: CampaignRecord | null; at: number }>();
  private readonly loose = new Set<Promise<unknown>>();
  /** The jobs being processed. */
  private readonly jobs = new Set<Promise<unknown>>();
  /** The latest look for due deferred items. */
  private poll: Promise<void> = Promise.resolve();
  private closing = false;
  private closed: Promise<void> | null = null;
  private run = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  private polling = false;
  private bull: import('bullmq').Worker | null = null;
  private bullRedis: Redis | null = null;

  constructor(
    private readonly redis: FleetRedis,
    private readonly settings: {
      prefix: string;
      render: RenderHook;
      retries: number;
      backoff: Backoff;
      pollMs: number;
      stalledMs: number;
      onEvent: ((event: WorkerEvent) => void) | undefined;
      connection: RedisConnection;
      unsubscribeSecret: Buffer | undefined;
    },
    concurrency: number,
    pool: SessionPool,
    leaseMs: number,
    id: string,
  ) {
    this.slots = new Slots(concurrency);
    this.gate = new RateGate(redis);
    this.pool = pool;
    this.leaseMs = leaseMs;
    this.id = id;
  }

  stats(): WorkerStats {
    return { ...this.counts, inFlight: this.slots.inUse };
  }

  async start(): Promise<void> {
    const lease = workerKey(this.settings.prefix, this.id);
    await this.redis.set(lease, String(process.pid), 'PX', this.leaseMs);
    this.heartbeat = setInterval(() => {
      this.redis.set(lease, String(process.pid), 'PX', this.leaseMs).catch((error: Error) => this.emit({ type: 'error', error }));
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    const { Worker: BullWorker } = loadBullmq();
    this.bullRedis = openRedis(this.settings.connection, `tclmail-worker-${this.id}`);
    this.bull = new BullWorker<JobData>(QUEUE_NAME, (job, token) => this.tracked(this.jobs, this.process(job, token)), {
      connection: this.bullRedis,
      prefix: QUEUE_PREFIX,
      // Jobs only hold claims; the slots bound the messages. Two jobs let the next batch start as one ends.
      concurrency: 2,
      lockDuration: this.leaseMs,
      stalledInterval: this.settings.stalledMs,
      // A job whose worker died is handed to another, however often that happens: its items are guarded by claims.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    this.bull.on('error', (error) => this.emit({ type: 'error', error }));
    this.poller = setInterval(() => this.pollDue(), this.settings.pollMs);
  }

  private emit(event: WorkerEvent): void {
    try {
      this.settings.onEvent?.(event);
    } catch {
      // A listener's failure must not stop the sending.
    }
  }

  private async record(campaign: string): Promise<CampaignRecord | null> {
    const cached = this.records.get(campaign);
    if (cached && Date.now() - cached.at < RECORD_TTL_MS) return cached.record;
    let record: CampaignRecord | null;
    try {
      record = await loadCampaign(this.redis, new CampaignKeys(this.settings.prefix, campaign), cached?.record);
    } catch (error) {
      if (!(error instanceof FleetError) || error.code !== 'ECAMPAIGN') throw error;
      record = null;
    }
    this.records.set(campaign, { record, at: Date.now() });
    return record;
  }

  /** One job: its batch of items, claimed, sent, recorded. Items another live worker holds are waited for. */
  private async process(job: Job<JobData>, bullToken?: string): Promise<void> {
    const { c: campaign, ids } = job.data;
    const keys = new CampaignKeys(this.settings.prefix, campaign);
    const ledger = new RedisLedger(this.redis, keys, `${this.id}:${++this.run}`);
    let todo = ids;
    while (todo.length > 0) {
      const record = await this.record(campaign);
      // Purged or cancelled: nothing of it is sent.
      if (record === null || record.status === 'cancelled') return;
      if (this.closing || record.status === 'paused') return this.handBack(job, bullToken);
      const claims = await ledger.claim(todo);
      const held: string[] = [];
      const work: Array<Promise<boolean>> = [];
      for (const claim of claims) {
        if (claim.status === 'claimed') work.push(this.send(ledger, claim.item!));
        else if (claim.status === 'held') held.push(claim.id);
      }
      const started = await Promise.all(work);
      // Stopping or paused before every item began: the job goes back to the queue for the rest.
      if (started.some((s) => !s)) return this.handBack(job, bullToken);
      todo = held;
      if (todo.length > 0) await sleep(Math.min(1000, this.leaseMs / 3));
    }
  }

  /** Puts a job back in the queue (at once when stopping, else after a pause's wait) and tells BullMQ so. */
  private async handBack(job: Job<JobData>, bullToken: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now() + (this.closing ? 0 : PAUSED_RETRY_MS), bullToken);
    throw new (loadBullmq().DelayedError)();
  }

  /** Claims due deferred items of every active campaign, as many as there are free slots. */
  private pollDue(): void {
    if (this.polling || this.closing) return;
    this.polling = true;
    const done = (async () => {
      try {
        const campaigns = await this.redis.smembers(campaignsKey(this.settings.prefix));
        for (const campaign of campaigns) {
          const free = this.slots.free;
          if (free <= 0 || this.closing) return;
          const record = await this.record(campaign);
          if (record === null || record.status !== 'active') continue;
          const keys = new CampaignKeys(this.settings.prefix, campaign);
          const ledger = new RedisLedger(this.redis, keys, `${this.id}:d${++this.run}`);
          const items = await ledger.claimDue(free, this.leaseMs);
          for (const item of items) this.track(this.send(ledger, item).then(() => undefined));
        }
      } catch (error) {
        this.emit({ type: 'error', error: error as Error });
      } finally {
        this.polling = false;
      }
    })();
    this.poll = done;
  }

  private track(promise: Promise<void>): void {
    void this.tracked(this.loose, promise);
  }

  /** Keeps a promise in `set` until it settles; returns it as it is. */
  private tracked<T>(set: Set<Promise<unknown>>, promise: Promise<T>): Promise<T> {
    set.add(promise);
    void promise.then(
      () => set.delete(promise),
      () => set.delete(promise),
    );
    return promise;
  }

  /**
   * One try of one claimed item. Resolves false when the item was handed back
   * unstarted (the worker is stopping, or the campaign was paused).
   */
  private async send(ledger: RedisLedger, item: ClaimedItem): Promise<boolean> {
    await this.slots.acquire();
    try {
      const record = await this.record(ledger.campaign);
      if (this.closing || record === null || record.status !== 'active') {
        await ledger.release(item.id);
        return record?.status === 'cancelled' || record === null;
      }
      await this.attempt(ledger, record, item);
      return true;
    } catch (error) {
      if (error instanceof LedgerWriteError) {
        this.counts.lost++;
        this.emit({ type: 'lost', campaign: ledger.campaign, id: item.id, reason: error.reply });
      } else {
        this.emit({ type: 'error', error: error as Error });
        await this.salvage(ledger, item, error);
      }
      return true;
    } finally {
      this.slots.release();
    }
  }

  /**
   * An item whose try broke outside the SMTP verdicts (a failing hook, a Redis
   * script error) must not stay claimed by a live worker: before `sending` it
   * is deferred (tried again later); after, it is uncertain.
   */
  private async salvage(ledger: RedisLedger, item: ClaimedItem, error: unknown): Promise<void> {
    const diagnostic = `worker error: ${(error as Error)?.message ?? String(error)}`;
    try {
      const current = await ledger.lookup(item.id);
      if (current?.state === 'pending' || current?.state === 'deferred') {
        await ledger.markDeferred(item.id, { diagnostic, dueMs: Date.now() + backoffDelay(item.attempts + 1, this.settings.backoff) });
      } else if (current?.state === 'sending') await ledger.markUncertain(item.id, diagnostic);
    } catch (again) {
      this.emit({ type: 'error', error: again as Error });
    }
  }

  private async attempt(ledger: RedisLedger, record: CampaignRecord, item: ClaimedItem): Promise<void> {
    const attempts = item.attempts + 1;
    const campaign = ledger.campaign;
    if (await isRedisSuppressed(this.redis, item.recipient, this.settings.prefix)) {
      // On the fleet's suppression list (a hard bounce, a complaint, an unsubscribe): never sent, not a failure.
      await ledger.markSuppressed(item.id);
      this.counts.suppressed++;
      this.emit({ type: 'suppressed', campaign, id: item.id });
      return;
    }
    // A worker configuration the campaign needs: thrown before the render, so the item is deferred (salvage), not failed.
    const unsubscribe = typeof record.options.unsubscribe === 'string' ? record.options.unsubscribe : undefined;
    if (unsubscribe !== undefined && this.settings.unsubscribeSecret === undefined) {
      throw new FleetError('ECAMPAIGN', `campaign ${campaign} adds one-click unsubscribe fields: start the worker with its secret (unsubscribeSecret, tclmail worker --unsubscribe-secret-file FILE)`);
    }
    const verp = typeof record.options.verp === 'string' ? record.options.verp : undefined;
    let token: Token;
    let plan: ReturnType<SessionPool['plan']>;
    try {
      const rendered: Rendered = await this.settings.render(record, item);
      const given = isToken(rendered) ? { token: rendered, options: undefined } : rendered;
      if (!given || !isToken(given.token)) throw new FleetError('ECAMPAIGN', 'the render hook must return a mime token or { token, options }');
      token = given.token;
      if (unsubscribe !== undefined) {
        const fields = unsubscribeHeaders({ url: unsubscribe, secret: this.settings.unsubscribeSecret!, id: item.id, address: item.recipient });
        setheader(token, 'List-Unsubscribe', fields['List-Unsubscribe']);
        setheader(token, 'List-Unsubscribe-Post', fields['List-Unsubscribe-Post']);
      }
      // VERP: the item's own envelope sender, and its id as the DSN ENVID (sent only when the relay offers DSN).
      const envelope = verp === undefined ? { originator: record.sender } : { originator: verpAddress(verp, item.id), envid: item.id };
      const own = parseOptions('smtp.sendmessage', SENDMESSAGE_OPTIONS, [{ ...(given.options ?? {}), ...envelope, recipients: [item.recipient] }]);
      plan = this.pool.plan(token, own);
    } catch (error) {
      const diagnostic = `not sent: ${(error as Error).message}`;
      await ledger.markOutcome(item.id, { state: 'failed', code: null, diagnostic });
      this.outcome(campaign, item.id, 'failed', attempts, null, diagnostic, []);
      return;
    }
    const lost: { error: LedgerWriteError | null } = { error: null };
    const rate = record.rate;
    const beforeEndOfData = async (): Promise<void> => {
      // The send time is reserved while `sending` is recorded: both writes share Redis's fsync, and the time
      // is near enough that the wait for it ends just before the end of data.
      const reserving = rate === null ? null : this.gate.reserve(ledger.keys, rate);
      reserving?.catch(() => undefined);
      try {
        await ledger.markSending(item.id);
      } catch (error) {
        if (error instanceof LedgerWriteError) lost.error = error;
        throw error;
      }
      if (rate !== null) await this.gate.pass(ledger.keys, rate, await reserving!);
    };
    let rejected: Rejected[];
    try {
      rejected = await this.pool.deliver(token, plan, { beforeEndOfData });
    } catch (error) {
      // Another worker holds the item: this try wrote no end of data, and the record is not ours to change.
      if (lost.error) throw lost.error;
      await this.failure(ledger, item, attempts, error);
      return;
    }
    await ledger.markOutcome(item.id, { state: 'sent', code: 250, rejected });
    this.outcome(campaign, item.id, 'sent', attempts, 250, '', rejected);
  }

  private async failure(ledger: RedisLedger, item: ClaimedItem, attempts: number, error: unknown): Promise<void> {
    const campaign = ledger.campaign;
    const verdict = classify(error);
    const rejected = (error as { rejected?: Rejected[] }).rejected ?? [];
    const code = codeOf(error);
    const diagnostic = (error as Error).message ?? String(error);
    if (verdict === 'uncertain') {
      await ledger.markUncertain(item.id, diagnostic);
      this.outcome(campaign, item.id, 'uncertain', attempts, code, diagnostic, rejected);
      return;
    }
    if (verdict === 'temporary' && (attempts <= this.settings.retries || this.closing)) {
      // A stopping worker leaves the item to the others at once; otherwise it waits out its back-off.
      const dueMs = Date.now() + (this.closing ? 0 : backoffDelay(attempts, this.settings.backoff));
      await ledger.markDeferred(item.id, { code, diagnostic, dueMs });
      this.counts.deferred++;
      this.emit({ type: 'deferred', campaign, id: item.id, attempts, code, diagnostic, dueMs });
      return;
    }
    const state = verdict === 'refused' ? 'refused' : 'failed';
    await ledger.markOutcome(item.id, { state, code, diagnostic, rejected });
    this.outcome(campaign, item.id, state, attempts, code, diagnostic, rejected);
  }

  private outcome(campaign: string, id: string, state: 'sent' | 'refused' | 'failed' | 'uncertain', attempts: number, code: number | null, diagnostic: string, rejected: Rejected[]): void {
    this.counts[state]++;
    this.emit({ type: 'outcome', campaign, id, state, attempts, code, diagnostic, rejected });
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    if (this.poller) clearInterval(this.poller);
    const bullClosed = this.bull?.close() ?? Promise.resolve();
    // A look for due items waits for Redis while it is away; an item it claims and never starts is taken by
    // another worker once this one's lease runs out, as after a crash.
    await within(this.poll, CLOSE_GRACE_MS);
    // This worker's own work: each job hands back what it has not started, and what is in flight finishes, its
    // outcome recorded (while Redis is away that waits for it; a second SIGTERM to `tclmail worker` stops at once).
    while (this.jobs.size + this.loose.size > 0) await Promise.allSettled([...this.jobs, ...this.loose]);
    // BullMQ's close can wait forever for its blocking client once an outage has left that client "reconnecting"
    // (bullmq#4656). Nothing of ours depends on it any more: it gets a grace period, then its connection is dropped.
    if (!(await within(bullClosed, CLOSE_GRACE_MS))) {
      this.emit({ type: 'error', error: new FleetError('EREDIS', `BullMQ did not close within ${CLOSE_GRACE_MS} ms (its blocking connection is stuck reconnecting); its connections are dropped`) });
      this.bullRedis?.disconnect();
      abandonBull(this.bull);
    }
    await this.pool.close();
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Claims of a worker that is gone may be taken at once; with Redis away, the lease key runs out by itself.
    await within(this.redis.del(workerKey(this.settings.prefix, this.id)), CLOSE_GRACE_MS);
    await quit(this.redis);
    if (this.bullRedis) await quit(this.bullRedis);
  }
}

/**
 * Starts a worker that sends for every campaign in a Redis, until `close()`.
 * Checks first that Redis persists every write (see checkDurability).
 *
 * ```ts
 * const worker = await startWorker({ connection: 'redis://127.0.0.1:6379', servers: ['mx.example.net'], concurrency: 8 });
 * process.once('SIGTERM', () => worker.close().then(() => process.exit(0)));
 * ```
 * @throws OptionError for a bad option; DurabilityError for a Redis that may lose writes; FleetError `EDEPENDENCY`
 *   without bullmq and ioredis.
 */
export async function startWorker(options: WorkerOptions): Promise<FleetWorker> {
  const o = parseOptions(COMMAND, WORKER_OPTIONS, [options]);
  if (o.connection === undefined) throw new OptionError(COMMAND, 'connection', '-connection (a Redis URL or its parts) is required');
  const concurrency = (o.concurrency as number | undefined) ?? 5;
  const sendOptions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(o)) if (!OWN.has(name)) sendOptions[name] = value;
  const { limits, messageDefaults } = readPoolOptions(sendOptions, { maxConnections: concurrency });
  const leaseMs = Math.round(seconds('leaseSecs', o.leaseSecs, 30) * 1000);
  const settings = {
    prefix: (o.prefix as string | undefined) ?? DEFAULT_PREFIX,
    render: (o.render as RenderHook | undefined) ?? renderRawTemplate,
    retries: (o.retries as number | undefined) ?? 3,
    backoff: { initialSecs: seconds('retryDelay', o.retryDelay, 5), maxSecs: seconds('maxRetryDelay', o.maxRetryDelay, 300) },
    pollMs: (o.pollMs as number | undefined) ?? 500,
    stalledMs: Math.round(seconds('stalledSecs', o.stalledSecs, leaseMs / 1000) * 1000),
    onEvent: o.onEvent as ((event: WorkerEvent) => void) | undefined,
    connection: o.connection as RedisConnection,
    unsubscribeSecret: readSecret(o.unsubscribeSecret),
  };
  const id = (o.workerId as string | undefined) ?? `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) throw new OptionError(COMMAND, 'workerId', `-workerId expects letters, digits, ".", "_" or "-", not ${JSON.stringify(id)}`);
  loadBullmq();
  const redis = withScripts(openRedis(settings.connection, `tclmail-worker-${id}`));
  let durability: DurabilityReport | null;
  try {
    durability = await checkDurability({ [CLIENT]: redis }, { allowUnsafe: o.allowUnsafeRedis === true });
  } catch (error) {
    await quit(redis);
    throw error;
  }
  const worker = new Worker(redis, settings, concurrency, new SessionPool(messageDefaults, limits), leaseMs, id);
  worker.durability = durability;
  await worker.start();
  return worker;
}
