/**
 * An open handle on a fleet's Redis: enqueue campaigns or single items as
 * an application produces them, read status, and control campaigns. The
 * workers (startWorker) may run anywhere that reaches the same Redis.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CampaignCounts, ItemState, LedgerItem } from '../ledger';
import { templateDigest as digestOfTemplate } from '../identity';
import { type CampaignRecord, type CampaignStatus, loadCampaign, storeCampaign } from './campaign';
import { CLIENT, openRedis, quit, type RedisConnection } from './connection';
import { loadBullmq } from './deps';
import { type AddJobs, type CampaignSpec, type EnqueueCampaignOptions, enqueueWith, type EnqueueResult, jobIdOf } from './enqueue';
import { ChangedItemsError, FleetError } from './errors';
import { type FleetItem, type PreparedItem, prepareItem } from './items';
import { CampaignKeys, campaignsKey, checkCampaignName, DEFAULT_PREFIX, jobKey, QUEUE_NAME, QUEUE_PREFIX } from './keys';
import { expireCampaign, purgeCampaign, resendUncertainItems, setCampaignRate, setCampaignStatus } from './control';
import { campaignCounts, campaignItems, RedisLedger } from './redis-ledger';
import { type FleetRedis, withScripts } from './scripts';

/** Options of {@link openFleet}. */
export interface FleetOptions {
  /** Key prefix of the fleet's own keys. Default `tclmail:`. */
  prefix?: string;
  /** Items per job for single items (Fleet.enqueue): a job is added when this many wait. Default 100. */
  batchSize?: number;
  /** Milliseconds single items wait for more before their job is added anyway. Default 50. */
  flushMs?: number;
}

/** What became of one item handed to Fleet.enqueue. */
export interface EnqueuedItem {
  id: string;
  /** `new`: stored and queued now. `known`: stored before, unchanged (nothing added). `changed`: stored anew (acceptChanged). */
  status: 'new' | 'known' | 'changed';
}

interface Waiting {
  prepared: PreparedItem;
  resolve: (value: EnqueuedItem) => void;
  reject: (error: unknown) => void;
}

interface LiveCampaign {
  keys: CampaignKeys;
  sender: string;
  templateDigest: string;
  acceptChanged: boolean;
  waiting: Waiting[];
  timer: NodeJS.Timeout | null;
  ordinal: number;
}

/** Job options: a job is removed once done (its items' states are the record), and retried if its processor fails. */
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 }, attempts: 1000, backoff: { type: 'fixed', delay: 1000 } };

/** An open fleet: Redis and the queue. Close it when done. */
export class Fleet {
  readonly [CLIENT]: Redis;
  private readonly redis: FleetRedis;
  private readonly queue: Queue;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly live = new Map<string, LiveCampaign>();
  private readonly flushing = new Set<Promise<void>>();
  private closed = false;

  /** @internal: use {@link openFleet}. */
  constructor(redis: Redis, options: FleetOptions) {
    const { Queue: BullQueue } = loadBullmq();
    this[CLIENT] = redis;
    this.redis = withScripts(redis);
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.batchSize = options.batchSize ?? 100;
    this.flushMs = options.flushMs ?? 50;
    this.queue = new BullQueue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
    this.queue.on('error', () => undefined);
  }

  private keys(campaign: string): CampaignKeys {
    return new CampaignKeys(this.prefix, checkCampaignName(campaign));
  }

  /** Adds jobs that are not queued already; resolves to how many were added. */
  private readonly addJobs: AddJobs = async (jobs) => {
    if (jobs.length === 0) return 0;
    const pipeline = this.redis.pipeline();
    for (const job of jobs) pipeline.exists(jobKey(job.jobId));
    const exists = ((await pipeline.exec()) ?? []).map(([, n]) => n === 1);
    const missing = jobs.filter((_, i) => !exists[i]);
    if (missing.length === 0) return 0;
    await this.queue.addBulk(missing.map((job) => ({ name: 'batch', data: { c: job.campaign, ids: job.ids }, opts: { ...JOB_OPTIONS, jobId: job.jobId } })));
    return missing.length;
  };

  /**
   * Stores a campaign and its items and queues them, idempotently: a second
   * call with the same list adds nothing.
   * @throws ChangedItemsError before anything is stored when a known id has another digest (unless acceptChanged).
   */
  enqueueCampaign(options: EnqueueCampaignOptions): Promise<EnqueueResult> {
    return enqueueWith(this.redis, this.prefix, this.addJobs, options);
  }

  /**
   * Stores a campaign's record (sender, template, rate) for single items to
   * follow with {@link enqueue}. Again with the same definition, nothing changes.
   */
  async createCampaign(spec: CampaignSpec & { acceptChanged?: boolean }): Promise<CampaignRecord> {
    const keys = this.keys(spec.campaign);
    const tplDigest = digestOfTemplate(spec.template.bytes, spec.template.attachments ?? []);
    const existing = await this.redis.hmget(keys.meta, 'templateDigest', 'sender');
    if (existing[0] !== null && (existing[0] !== tplDigest || existing[1] !== spec.sender) && !spec.acceptChanged) {
      throw new FleetError('ECAMPAIGN', `campaign ${keys.campaign} exists with another ${existing[0] !== tplDigest ? 'template' : 'sender'}; pass acceptChanged if the change is meant`);
    }
    await storeCampaign(this.redis, keys, { ...spec, campaign: keys.campaign, templateDigest: tplDigest }, spec.acceptChanged === true, campaignsKey(this.prefix));
    this.live.delete(keys.campaign);
    return loadCampaign(this.redis, keys);
  }

  /**
   * Queues one item of a campaign made with {@link createCampaign}, as an
   * application produces it. Items are gathered into jobs of `batchSize`
   * (or what came within `flushMs`). The same item again adds nothing.
   * @throws ChangedItemsError when the id is known with another digest; InvalidInputError for a bad recipient.
   */
  async enqueue(campaign: string, item: FleetItem): Promise<EnqueuedItem> {
    if (this.closed) throw new FleetError('ECAMPAIGN', 'this fleet handle is closed');
    const live = await this.liveCampaign(campaign);
    const prepared = prepareItem(item, live.sender, live.templateDigest, ++live.ordinal);
    return new Promise<EnqueuedItem>((resolve, reject) => {
      live.waiting.push({ prepared, resolve, reject });
      if (live.waiting.length >= this.batchSize) this.flushCampaign(live);
      else live.timer ??= setTimeout(() => this.flushCampaign(live), this.flushMs);
    });
  }

  private async liveCampaign(campaign: string): Promise<LiveCampaign> {
    const keys = this.keys(campaign);
    let live = this.live.get(keys.campaign);
    if (!live) {
      const meta = await this.redis.hmget(keys.meta, 'templateDigest', 'sender', 'acceptChanged');
      if (meta[0] === null) throw new FleetError('ECAMPAIGN', `no campaign ${keys.campaign} in this Redis: create it first (createCampaign)`);
      live = { keys, templateDigest: meta[0], sender: meta[1] ?? '', acceptChanged: false, waiting: [], timer: null, ordinal: 0 };
      this.live.set(keys.campaign, live);
    }
    return live;
  }

  private flushCampaign(live: LiveCampaign): void {
    if (live.timer) clearTimeout(live.timer);
    live.timer = null;
    const batch = live.waiting.splice(0);
    if (batch.length === 0) return;
    const done = this.store(live, batch).finally(() => this.flushing.delete(done));
    this.flushing.add(done);
  }

  private async store(live: LiveCampaign, batch: Waiting[]): Promise<void> {
    try {
      const args: string[] = [live.keys.base, live.acceptChanged ? '1' : '0', ''];
      for (const { prepared: p } of batch) args.push(p.id, p.digest, p.recipient, p.values, p.state, p.diagnostic, '');
      const statuses = await this.redis.tclmailAddItems(live.keys.counts, live.keys.order, live.keys.meta, '', ...args);
      const ids: string[] = [];
      batch.forEach(({ prepared: p }, i) => {
        if (((statuses[i] === 'new' && p.state === 'pending') || statuses[i] === 'pending') && !ids.includes(p.id)) ids.push(p.id);
      });
      if (ids.length > 0) await this.addJobs([{ jobId: jobIdOf(live.keys.campaign, 'l', ids), campaign: live.keys.campaign, ids }]);
      batch.forEach(({ prepared: p, resolve, reject }, i) => {
        const status = statuses[i];
        if (status === 'refused') reject(new ChangedItemsError(live.keys.campaign, [p.id], 1));
        else resolve({ id: p.id, status: status === 'new' ? 'new' : status === 'changed' ? 'changed' : 'known' });
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }

  /** Queues every single item still gathered. */
  async flush(): Promise<void> {
    for (const live of this.live.values()) this.flushCampaign(live);
    while (this.flushing.size > 0) await Promise.all([...this.flushing]);
  }

  /** The campaign's record (manifest, sender, rate, status, template). */
  campaign(name: string): Promise<CampaignRecord> {
    return loadCampaign(this.redis, this.keys(name));
  }

  /** The names of the campaigns in this Redis. */
  async campaigns(): Promise<string[]> {
    const names = await this.redis.smembers(campaignsKey(this.prefix));
    const present = await Promise.all(names.map((name) => this.redis.hexists(this.keys(name).meta, 'campaign')));
    // A campaign that expired leaves its name behind: tidy it.
    const gone = names.filter((_, i) => present[i] !== 1);
    if (gone.length > 0) await this.redis.srem(campaignsKey(this.prefix), ...gone);
    return names.filter((_, i) => present[i] === 1).sort();
  }

  /** Counts by state (O(1)), as `tclmail bulk --status --json` prints them. */
  async status(campaign: string): Promise<CampaignCounts> {
    const keys = this.keys(campaign);
    if ((await this.redis.hexists(keys.meta, 'campaign')) !== 1) throw new FleetError('ECAMPAIGN', `no campaign ${keys.campaign} in this Redis`);
    return campaignCounts(this.redis, keys);
  }

  /** Every item of a campaign, in list order, optionally only some states. */
  items(campaign: string, filter?: { states?: readonly ItemState[] }): AsyncIterable<LedgerItem> {
    return campaignItems(this.redis, this.keys(campaign), filter);
  }

  /** One item's record. */
  async item(campaign: string, id: string): Promise<LedgerItem | undefined> {
    return new RedisLedger(this.redis, this.keys(campaign), '').lookup(id);
  }

  /**
   * A ledger of one campaign whose writes carry `token` (`<worker>:<run>`):
   * what a worker uses. For tools and tests; workers make their own.
   */
  ledger(campaign: string, token: string): RedisLedger {
    return new RedisLedger(this.redis, this.keys(campaign), token);
  }

  /** Holds the campaign: workers see it within a second; messages in flight finish, nothing new starts. */
  pause(campaign: string): Promise<void> {
    return setCampaignStatus(this.redis, this.keys(campaign), 'paused');
  }

  /** Lets a paused campaign go on (its jobs are looked at again within a few seconds). */
  resume(campaign: string): Promise<void> {
    return setCampaignStatus(this.redis, this.keys(campaign), 'active');
  }

  /** Sends nothing more of the campaign; its unsent items stay `pending` in the record. */
  cancel(campaign: string): Promise<void> {
    return setCampaignStatus(this.redis, this.keys(campaign), 'cancelled');
  }

  /** Sets the campaign's status directly. */
  setStatus(campaign: string, status: CampaignStatus): Promise<void> {
    return setCampaignStatus(this.redis, this.keys(campaign), status);
  }

  /** Sets the campaign's rate across every worker (null: no limit). */
  setRate(campaign: string, rate: number | null): Promise<void> {
    return setCampaignRate(this.redis, this.keys(campaign), rate);
  }

  /** Sends the uncertain items again (they may arrive twice). Resolves to their ids. */
  resendUncertain(campaign: string): Promise<string[]> {
    return resendUncertainItems(this.redis, this.keys(campaign), this.addJobs, this.batchSize);
  }

  /** Deletes the campaign and all its keys. Resolves to the number of keys deleted. */
  purge(campaign: string): Promise<number> {
    this.live.delete(campaign);
    return purgeCampaign(this.redis, this.keys(campaign));
  }

  /** Lets every key of the campaign expire in `seconds` (retention of a finished campaign). */
  expire(campaign: string, seconds: number): Promise<void> {
    return expireCampaign(this.redis, this.keys(campaign), seconds);
  }

  /** Queues what is gathered, then closes the queue and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.queue.close();
    await quit(this.redis);
  }
}

/** Opens a fleet handle on a Redis. @throws FleetError `EDEPENDENCY` without bullmq and ioredis, `EREDIS` for a bad URL. */
export async function openFleet(connection: RedisConnection, options: FleetOptions = {}): Promise<Fleet> {
  loadBullmq();
  const redis = openRedis(connection, 'tclmail-fleet');
  return new Fleet(redis, options);
}

/**
 * Stores a campaign (its record, template and items) in Redis and queues it
 * for the workers, then closes the connection. Idempotent: running it again
 * adds nothing; changed items are refused before anything is stored.
 *
 * ```ts
 * await enqueueCampaign('redis://127.0.0.1:6379', {
 *   campaign: 'monday', sender: 'news@example.org',
 *   template: { bytes: fs.readFileSync('letter.eml') },
 *   items: () => rows.map((row) => ({ recipient: row.email, values: row })),
 * });
 * ```
 * @throws ChangedItemsError (`ECHANGED`), InvalidInputError for a bad item, FleetError.
 */
export async function enqueueCampaign(connection: RedisConnection, options: EnqueueCampaignOptions): Promise<EnqueueResult> {
  const fleet = await openFleet(connection);
  try {
    return await fleet.enqueueCampaign(options);
  } finally {
    await fleet.close();
  }
}
