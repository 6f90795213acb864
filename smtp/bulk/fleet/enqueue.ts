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
import { ChangedItems } from '../ledger';
import { type CampaignTemplate, storeCampaign } from './campaign';
import { ListChangedError, RepeatedIdError } from './errors';
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

/** An item whose id an earlier item of the same list has, found by the check read. */
export interface Repeat {
  /** The item's place in the list, counted from 1. */
  ordinal: number;
  id: string;
  /** `duplicate`: the same item again (one item); `clash`: another item under the same id. */
  kind: 'duplicate' | 'clash';
  /** The item as the source gave it. */
  item: FleetItem;
}

/** Options of {@link enqueueCampaign}. */
export interface EnqueueCampaignOptions extends CampaignSpec {
  items: ItemSource;
  /** Store changed items anew (their new digest and values) instead of refusing the list. */
  acceptChanged?: boolean;
  /**
   * Two items of the list under one id with other contents: `refuse` (the
   * default) refuses the list before anything is stored; `skip` keeps the
   * first and leaves the later ones out (counted in the result's `clashes`).
   */
  clashes?: 'refuse' | 'skip';
  /** Item ids per job. Default 100. */
  batchSize?: number;
  /** Called in list order, during the check read, for each item whose id an earlier item has. */
  onRepeat?: (repeat: Repeat) => void;
  /**
   * Called once the list has been read and checked, before anything is
   * stored: a caller that validates its rows as the check read pulls them
   * throws here to stop, so the list is read twice in all.
   */
  afterCheck?: () => void | Promise<void>;
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
  /** Items left out because an earlier item of the list has their id with another digest (`clashes: 'skip'`). The first 20 ids and the count. */
  clashes: { count: number; ids: string[] };
  /** Jobs added to the queue now. */
  jobs: number;
}

/** Adds jobs; the worker's processor reads `{ c, ids }`. @internal */
export type AddJobs = (jobs: Array<{ jobId: string; campaign: string; ids: string[] }>) => Promise<number>;

/** Items per call of the check read. */
const CHECK_CHUNK = 500;

/**
 * Script calls kept in flight by the store read. Redis with `appendfsync
 * always` syncs once per round of commands, so calls sent together share an
 * fsync: the list goes in at many times the speed of one call at a time.
 * No more than that: what waits for a reply lives long enough to reach V8's
 * old generation, whose size between collections grows with it (measured on
 * 500,000 rows: 16 in flight, 184 MB peak RSS; 8, 164 MB and no slower).
 */
const IN_FLIGHT = 8;

/** Check calls in flight, each carrying {@link CHECK_CHUNK} items. */
const CHECKS_IN_FLIGHT = 2;

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
 * What this process keeps does not grow with the list: the ids seen are kept
 * in Redis, in a scratch hash that lives from the check read to the end of
 * the store read.
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
  // The ids of this list, each with the ordinal of its first item: the store read leaves later ones out.
  const seen = `${keys.base}check:${randomBytes(6).toString('hex')}`;
  try {
    const checked = await checkRead(redis, keys, seen, fresh(source), tplDigest, options);
    await options.afterCheck?.();
    if (checked.clashes.count > 0 && options.clashes !== 'skip') throw new RepeatedIdError(campaign, checked.clashes.ids, checked.clashes.count);
    if (!options.acceptChanged) checked.changed.check(campaign);
    const result: EnqueueResult = {
      campaign, listDigest: checked.list.digest(), total: checked.list.size,
      added: 0, known: 0, changed: 0, invalid: 0, suppressed: 0, duplicates: { count: checked.duplicates.count, ids: checked.duplicates.ids }, clashes: { count: checked.clashes.count, ids: checked.clashes.ids }, jobs: 0,
    };
    await storeCampaign(
      redis, keys,
      { campaign, sender: options.sender, template: options.template, templateDigest: tplDigest, rate: options.rate, options: options.options, listDigest: result.listDigest },
      options.acceptChanged === true, campaignsKey(prefix),
    );
    await storeRead(redis, keys, seen, fresh(source), tplDigest, batchSize, addJobs, options, result);
    return result;
  } finally {
    await redis.del(seen);
  }
}

/** What the check read found. */
interface Checked {
  /** The items kept (first of each id), in order. */
  list: ListDigest;
  changed: ChangedItems;
  /** Repeats of an earlier item, and other items under an earlier id: the first ids and the count, as changed ids are kept. */
  duplicates: ChangedItems;
  clashes: ChangedItems;
}

/** The check read: nothing is stored but the scratch hash of the ids seen. */
async function checkRead(
  redis: FleetRedis, keys: CampaignKeys, seen: string, items: Iterable<FleetItem> | AsyncIterable<FleetItem>, tplDigest: string, options: EnqueueCampaignOptions,
): Promise<Checked> {
  const checked: Checked = { list: new ListDigest(), changed: new ChangedItems(), duplicates: new ChangedItems(), clashes: new ChangedItems() };
  const checks = new Ordered<string[]>(CHECKS_IN_FLIGHT);
  let ordinal = 0;
  for await (const chunk of chunksOf(items, CHECK_CHUNK)) {
    const first = ordinal + 1;
    // Only ids and digests wait for the reply (and the items, for onRepeat): the rest is garbage at once.
    const ids: string[] = [];
    const digests: string[] = [];
    const args: string[] = [keys.base];
    for (const item of chunk) {
      const { id, digest } = prepareItem(item, options.sender, tplDigest, ++ordinal);
      ids.push(id);
      digests.push(digest);
      // 64 bits of the digest tell a changed item from the same one: a shorter call, a smaller scratch hash.
      args.push(id, digest.slice(0, 16), String(ordinal));
    }
    await checks.push(redis.tclmailCheck(seen, ...args), (verdicts) => ids.forEach((id, i) => {
      const verdict = verdicts[i];
      if (verdict === 'duplicate' || verdict === 'clash') {
        (verdict === 'duplicate' ? checked.duplicates : checked.clashes).add(id);
        options.onRepeat?.({ ordinal: first + i, id, kind: verdict, item: chunk[i] });
        return;
      }
      checked.list.add(id, digests[i]);
      if (verdict === 'changed') checked.changed.add(id);
    }));
  }
  await checks.drain();
  return checked;
}

/** The store read: items in chunks of a batch; a job for each batch that has items to send. */
async function storeRead(
  redis: FleetRedis, keys: CampaignKeys, seen: string, items: Iterable<FleetItem> | AsyncIterable<FleetItem>, tplDigest: string,
  batchSize: number, addJobs: AddJobs, options: EnqueueCampaignOptions, result: EnqueueResult,
): Promise<void> {
  const campaign = keys.campaign;
  const refused = new ChangedItems();
  // The same list must come back: its items (repeats left out) are digested again and compared.
  const again = new ListDigest();
  let unchecked = 0;
  let batch = 0;
  let ordinal = 0;
  let jobs: Array<{ jobId: string; campaign: string; ids: string[] }> = [];
  const stores = new Ordered<string[]>(IN_FLIGHT);
  const stored = (prepared: Array<Pick<PreparedItem, 'id' | 'digest' | 'state'>>, jobId: string, statuses: string[]): void => {
    const toSend: string[] = [];
    prepared.forEach((p, i) => {
      const status = statuses[i];
      if (status === 'repeat') return;
      if (status === 'unchecked') {
        unchecked++;
        return;
      }
      again.add(p.id, p.digest);
      if (p.state === 'invalid') result.invalid++;
      if (p.state === 'suppressed') result.suppressed++;
      if (status === 'new') result.added++;
      else if (status === 'changed') result.changed++;
      else if (status === 'refused') refused.add(p.id);
      else result.known++;
      if (((status === 'new' && p.state === 'pending') || status === 'pending') && !toSend.includes(p.id)) toSend.push(p.id);
    });
    if (statuses[prepared.length] === '1') jobs.push({ jobId, campaign, ids: toSend });
  };
  for await (const chunk of chunksOf(items, batchSize)) {
    const prepared: PreparedItem[] = chunk.map((item) => prepareItem(item, options.sender, tplDigest, ++ordinal));
    const jobId = jobIdOf(campaign, `b${batch++}`, prepared.map((p) => p.id));
    const args: string[] = [keys.base, options.acceptChanged ? '1' : '0', jobKey(jobId)];
    const first = ordinal - prepared.length;
    prepared.forEach((p, i) => args.push(p.id, p.digest, p.recipient, p.values, p.state, p.diagnostic, String(first + i + 1)));
    const kept = prepared.map(({ id, digest, state }) => ({ id, digest, state }));
    await stores.push(redis.tclmailAddItems(keys.counts, keys.order, keys.meta, seen, ...args), (statuses) => stored(kept, jobId, statuses));
    if (jobs.length >= 50) {
      const ready = jobs;
      jobs = [];
      result.jobs += await addJobs(ready);
    }
  }
  await stores.drain();
  if (jobs.length > 0) result.jobs += await addJobs(jobs);
  if (unchecked > 0 || again.size !== result.total || again.digest() !== result.listDigest) {
    throw new ListChangedError(campaign);
  }
  // Another enqueuer changed items between the two reads: what it stored stays, this list's changes were refused.
  if (!options.acceptChanged) refused.check(campaign);
}
