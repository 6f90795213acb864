/**
 * A campaign's rate across every worker: a token bucket in Redis, refilled
 * by the time elapsed on Redis's own clock (so the workers' clocks do not
 * matter), holding at most 10 % of a second's tokens, so a pause is followed
 * by a burst of at most 10 % of the rate.
 */
import { CampaignKeys } from './keys';
import type { FleetRedis } from './scripts';

/** The bucket's size for a rate: 10 % of a second's messages, at least 1. */
export function burstOf(rate: number): number {
  return Math.max(1, Math.floor(rate / 10));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the campaign's bucket gives a token. */
export async function takeToken(redis: FleetRedis, keys: CampaignKeys, rate: number): Promise<void> {
  const burst = String(burstOf(rate));
  for (;;) {
    const wait = Number(await redis.tclmailTakeToken(keys.bucket, String(rate), burst));
    if (wait <= 0) return;
    await sleep(wait);
  }
}
