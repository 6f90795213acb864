/**
 * What an operator does to a campaign: pause, resume, cancel, change the
 * rate, send the uncertain items again (explicitly, listing them), and purge
 * or expire a finished campaign so that Redis memory stays bounded.
 */
import { loadCampaign } from './campaign';
import { FleetError } from './errors';
import { type CampaignKeys, campaignsKey } from './keys';
import type { FleetRedis } from './scripts';
import type { AddJobs } from './enqueue';
import { jobIdOf } from './enqueue';
import type { CampaignStatus } from './campaign';

const PAGE = 500;

async function mustExist(redis: FleetRedis, keys: CampaignKeys): Promise<void> {
  if ((await redis.hexists(keys.meta, 'campaign')) !== 1) throw new FleetError('ECAMPAIGN', `no campaign ${keys.campaign} in this Redis`);
}

/** Sets a campaign's status: `paused` holds every item where it is (in-flight messages finish), `active` resumes, `cancelled` sends nothing more. */
export async function setCampaignStatus(redis: FleetRedis, keys: CampaignKeys, status: CampaignStatus): Promise<void> {
  await mustExist(redis, keys);
  await redis.hset(keys.meta, 'status', status);
}

/** Sets a campaign's rate (messages per second across every worker), or removes it with null. */
export async function setCampaignRate(redis: FleetRedis, keys: CampaignKeys, rate: number | null): Promise<void> {
  if (rate !== null && !(Number.isFinite(rate) && rate > 0)) throw new FleetError('ECAMPAIGN', `a rate is a positive number of messages per second, not ${rate}`);
  await mustExist(redis, keys);
  await redis.hset(keys.meta, 'rate', rate === null ? '' : String(rate));
}

/**
 * Makes every `uncertain` item pending again and queues it: these messages
 * may then arrive twice, which is why this happens only when asked.
 * Resolves to the ids sent again, in list order.
 */
export async function resendUncertainItems(redis: FleetRedis, keys: CampaignKeys, addJobs: AddJobs, batchSize = 100): Promise<string[]> {
  await mustExist(redis, keys);
  const resent: string[] = [];
  const stamp = Date.now().toString(36);
  for (let start = 0; ; start += PAGE) {
    const ids = await redis.lrange(keys.order, start, start + PAGE - 1);
    if (ids.length === 0) break;
    const states = await Promise.all(ids.map((id) => redis.hget(keys.item(id), 's')));
    const uncertain = ids.filter((_, i) => states[i] === 'uncertain');
    if (uncertain.length > 0) resent.push(...(await redis.tclmailResend(keys.counts, keys.base, ...uncertain)));
    if (ids.length < PAGE) break;
  }
  const jobs: Array<{ jobId: string; campaign: string; ids: string[] }> = [];
  for (let i = 0; i < resent.length; i += batchSize) {
    const ids = resent.slice(i, i + batchSize);
    jobs.push({ jobId: jobIdOf(keys.campaign, `r${stamp}`, ids), campaign: keys.campaign, ids });
  }
  if (jobs.length > 0) await addJobs(jobs);
  return resent;
}

/** Every key of a campaign, the item keys found through its order list. */
async function* campaignKeys(redis: FleetRedis, keys: CampaignKeys): AsyncIterable<string[]> {
  for (let start = 0; ; start += PAGE) {
    const ids = await redis.lrange(keys.order, start, start + PAGE - 1);
    if (ids.length === 0) break;
    yield ids.map((id) => keys.item(id));
    if (ids.length < PAGE) break;
  }
  yield [keys.meta, keys.template, keys.values, keys.counts, keys.due, keys.bucket, keys.order];
}

/** Deletes a campaign and everything stored for it. Jobs still queued for it find nothing and end. */
export async function purgeCampaign(redis: FleetRedis, keys: CampaignKeys): Promise<number> {
  await mustExist(redis, keys);
  await redis.hset(keys.meta, 'status', 'cancelled');
  let deleted = 0;
  for await (const batch of campaignKeys(redis, keys)) deleted += await redis.unlink(...batch);
  await redis.srem(campaignsKey(keys.prefix), keys.campaign);
  return deleted;
}

/** Lets a campaign expire `seconds` from now (a retention time for finished campaigns). */
export async function expireCampaign(redis: FleetRedis, keys: CampaignKeys, seconds: number): Promise<void> {
  await loadCampaign(redis, keys);
  for await (const batch of campaignKeys(redis, keys)) {
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.expire(key, Math.max(1, Math.round(seconds)));
    await pipeline.exec();
  }
}
