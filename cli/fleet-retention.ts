/**
 * Retention of finished campaigns, so that Redis memory stays bounded: a
 * campaign enqueued with `--retain-days N` (default 7) gets every key set to
 * expire N days after it is found finished (every item in a final state).
 * Workers look every 10 seconds; `--retain-days 0` keeps a campaign until
 * `tclmail bulk --purge`.
 */
import type { Fleet } from '../smtp/bulk/fleet';
import { CLIENT } from '../smtp/bulk/fleet/connection';
import { CampaignKeys, DEFAULT_PREFIX } from '../smtp/bulk/fleet/keys';

export const DEFAULT_RETAIN_DAYS = 7;

/** What one sweep did: the campaigns set to expire, and in how many seconds. */
export interface Expiring {
  campaign: string;
  seconds: number;
}

/** Sets finished campaigns that are not yet expiring to expire after their retention. */
export async function sweepFinished(fleet: Fleet, prefix = DEFAULT_PREFIX): Promise<Expiring[]> {
  const redis = fleet[CLIENT];
  const expiring: Expiring[] = [];
  for (const campaign of await fleet.campaigns()) {
    const keys = new CampaignKeys(prefix, campaign);
    // A TTL on the record means an earlier sweep (by this worker or another) did it already.
    if ((await redis.ttl(keys.meta)) >= 0) continue;
    const counts = await fleet.status(campaign);
    if (counts.total === 0 || counts.done < counts.total) continue;
    const options = JSON.parse((await redis.hget(keys.meta, 'options')) ?? '{}') as { retainDays?: unknown };
    const days = typeof options.retainDays === 'number' && options.retainDays >= 0 ? options.retainDays : DEFAULT_RETAIN_DAYS;
    if (days === 0) continue;
    const seconds = days * 24 * 3600;
    await fleet.expire(campaign, seconds);
    expiring.push({ campaign, seconds });
  }
  return expiring;
}
