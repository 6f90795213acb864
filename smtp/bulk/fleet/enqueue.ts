/**
 * Enqueuing a campaign, idempotently: the list is checked against what Redis
 * holds first (a known id with another digest is a changed item, refused
 * before anything is stored), then the record and the items are stored and
 * BullMQ jobs are added, each carrying a batch of item ids. A job's id is
 * made of the campaign, the batch's index and a digest of its ids, so a
 * second enqueue of the same list adds nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ListDigest, templateDigest as digestOfTemplate } from '../identity';
import { type CampaignTemplate, storeCampaign } from './campaign';
import { ChangedItemsError } from './errors';
import { chunksOf, type FleetItem, type ItemSource, type PreparedItem, prepareItem } from './items';
import { CampaignKeys, campaignsKey, checkCampaignName, jobKey } from './keys';
import type { FleetRedis } from './scripts';

/** A campaign's definition: what is stored once. */
export interface CampaignSpec {
  campaign: string;
  /** The envelope sender (MAIL FROM); `''` for the null sender. */
  sender: string;
  template: CampaignTemplate;
  /** Messages per second across every worker. */
  rate?: number | null;
  /** Data for the renderer, stored with the campaign as JSON (e.g. the CLI's template settings). */
  options?: Record<string, unknown>;
}

/** Options of {@link enqueueCampaign}. */
export interface EnqueueCampaignOptions extends CampaignSpec {
  items: ItemSource;
  /** Store changed items anew (their new digest and values) instead of refusing the list. */
  acceptChanged?: boolean;
  /** Item ids per job. Default 100. */
  batchSize?: number;
}

/** What an enqueue did. */
export interface EnqueueResult {
  campaign: string;
  /** identity.ListDigest of the list (ids and digests in order, duplicates left out). */
  listDigest: string;
  /** Items in the list, duplicates left out. */
  total: number;
  /** Items stored for the first time. */
  added: number;
  /** Items already stored, unchanged. */
  known: number;
  /** Changed items stored anew (only with acceptChanged). */
  changed: number;
  /** Items invalid (stored as such, never sent). */
  invalid: number;
  /** Items stored `suppressed` (on a suppression list given at enqueue time; never sent). */
  suppressed: number;
  /** Rows that repeat an earlier item of the list (same id, same digest): one item. The first 20 ids and the count. */
  duplicates: { count: number; ids: string[] };
  /** Jobs added to the queue now. */
  jobs: number;
}

/** Adds jobs; the worker's processor reads `{ c, ids }`. @internal */
export type AddJobs = (jobs: Array<{ jobId: string; campaign: string; ids: string[] }>) => Promise<number>;

const CHECK_CHUNK = 1000;

/**
 * Script calls kept in flight by each pass. Redis with `appendfsync always`
 * syncs once per round of commands, so calls sent together share an fsync:
 * the list goes in at many times the speed of one call at a time.
 */
const IN_FLIGHT = 16;

/** Runs calls with up to `limit` in flight, handling their results in the order they were sent. */
class Ordered<T> {
  private readonly queue: Array<{ reply: Promise<T>; handle: (reply: T) => void }> = [];
  constructor(private readonly limit: number) {}

  async push(reply: Promise<T>, handle: (reply: T) => void): Promise<void> {
    // A failure is read when its turn comes; until then it must not count as unhandled.
    reply.catch(() => undefined);
    this.queue.push({ reply, handle });
    while (this.queue.length >= this.limit) await this.next();
  }

  private async next(): Promise<void> {
    const { reply, handle } = this.queue.shift()!;
    handle(await reply);
  }

  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.next();
  }
}

function fresh(source: ItemSource): Iterable<FleetItem> | AsyncIterable<FleetItem> {
  return typeof source === 'function' ? source() : source;
}

/** A job id from the campaign, a label and the ids it carries: the same batch gets the same id. */
export function jobIdOf(campaign: string, label: string, ids: readonly string[]): string {
  const hash = createHash('sha256');
  for (const id of ids) hash.update(`${id}\n`);
  return `${campaign}.${label}.${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Checks and stores a campaign and adds its jobs. The source is read twice
 * (a function is called twice; a one-shot iterator is read once into memory).
 * @internal: use {@link enqueueCampaign} or Fleet.enqueueCampaign.
 */
export async function enqueueWith(redis: FleetRedis, prefix: string, addJobs: AddJobs, options: EnqueueCampaignOptions): Promise<EnqueueResult> {
  const campaign = checkCampaignName(options.campaign);
  const keys = new CampaignKeys(prefix, campaign);
  const batchSize = options.batchSize ?? 100;
  const tplDigest = digestOfTemplate(options.template.bytes, options.template.attachments ?? []);
  let source = options.items;
  if (typeof source !== 'function' && !Array.isArray(source)) {
    // A one-shot iterator cannot be read twice: keep it.
    const kept: FleetItem[] = [];
    for await (const item of source as AsyncIterable<FleetItem>) kept.push(item);
    source = kept;
  }

  // The check pass: nothing is stored but a scratch set of the ids seen.
  const seen = `${keys.base}check:${randomBytes(6).toString('hex')}`;
  const list = new ListDigest();
  const changedIds: string[] = [];
  let changedCount = 0;
  const duplicates = { count: 0, ids: [] as string[] };
  let ordinal = 0;
  const checks = new Ordered<string[]>(IN_FLIGHT);
  try {
    for await (const chunk of chunksOf(fresh(source), CHECK_CHUNK)) {
      const prepared = chunk.map((item) => prepareItem(item, options.sender, tplDigest, ++ordinal));
      const args: string[] = [keys.base];
      for (const p of prepared) args.push(p.id, p.digest);
      await checks.push(redis.tclmailCheck(seen, ...args), (verdicts) => prepared.forEach((p, i) => {
        const verdict = verdicts[i];
        if (verdict === 'duplicate') {
          duplicates.count++;
          if (duplicates.ids.length < 20) duplicates.ids.push(p.id);
          return;
        }
        list.add(p.id, p.digest);
        if (verdict === 'changed' || verdict === 'clash') {
          changedCount++;
          if (changedIds.length < 20) changedIds.push(p.id);
        }
      }));
    }
    await checks.drain();
  } finally {
    await redis.del(seen);
  }
  // An id used twice in one list for two different items cannot be accepted: one would hide the other.
  if (changedCount > 0 && !options.acceptChanged) throw new ChangedItemsError(campaign, changedIds, changedCount);

  const result: EnqueueResult = { campaign, listDigest: list.digest(), total: list.size, added: 0, known: 0, changed: 0, invalid: 0, suppressed: 0, duplicates, jobs: 0 };
  await storeCampaign(
    redis, keys,
    { campaign, sender: options.sender, template: options.template, templateDigest: tplDigest, rate: options.rate, options: options.options, listDigest: result.listDigest },
    options.acceptChanged === true, campaignsKey(prefix),
  );

  // The store pass: items in chunks of a batch; a job for each batch that has items to send.
  let batch = 0;
  ordinal = 0;
  let jobs: Array<{ jobId: string; campaign: string; ids: string[] }> = [];
  const stores = new Ordered<string[]>(IN_FLIGHT);
  const stored = (prepared: PreparedItem[], jobId: string, statuses: string[]): void => {
    const toSend: string[] = [];
    prepared.forEach((p, i) => {
      const status = statuses[i];
      if (p.state === 'invalid') result.invalid++;
      if (p.state === 'suppressed') result.suppressed++;
      if (status === 'new') result.added++;
      else if (status === 'changed') result.changed++;
      else if (status === 'refused') {
        changedCount++;
        if (changedIds.length < 20) changedIds.push(p.id);
      } else if (status !== 'new') result.known++;
      if (((status === 'new' && p.state === 'pending') || status === 'pending') && !toSend.includes(p.id)) toSend.push(p.id);
    });
    if (statuses[prepared.length] === '1') jobs.push({ jobId, campaign, ids: toSend });
  };
  for await (const chunk of chunksOf(fresh(source), batchSize)) {
    const prepared: PreparedItem[] = chunk.map((item) => prepareItem(item, options.sender, tplDigest, ++ordinal));
    const index = batch++;
    const jobId = jobIdOf(campaign, `b${index}`, prepared.map((p) => p.id));
    const args: string[] = [keys.base, options.acceptChanged ? '1' : '0', jobKey(jobId)];
    for (const p of prepared) args.push(p.id, p.digest, p.recipient, p.values, p.state, p.diagnostic);
    await stores.push(redis.tclmailAddItems(keys.counts, keys.order, keys.meta, ...args), (statuses) => stored(prepared, jobId, statuses));
    if (jobs.length >= 50) {
      const ready = jobs;
      jobs = [];
      result.jobs += await addJobs(ready);
    }
  }
  await stores.drain();
  if (jobs.length > 0) result.jobs += await addJobs(jobs);
  // Another enqueuer changed items between the two passes: what it stored stays, this list's changes were refused.
  if (changedCount > 0 && !options.acceptChanged) throw new ChangedItemsError(campaign, changedIds, changedCount);
  return result;
}
