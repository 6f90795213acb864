/**
 * Bounces and suppression for the fleet's Redis ledger. A bounce is one Lua
 * script per report entry, run atomically: only an item in `sent` becomes
 * `bounced` (an item still pending, in flight or refused is left alone), a
 * hard bounce is never undone by a later report, a success report clears a
 * soft one, and the campaign's counts move in the same script. Running a
 * script twice with the same entry changes nothing the second time.
 *
 * The suppression set `<prefix>suppressed` holds lower-cased addresses;
 * workers check it just before claiming an item's send and record such an
 * item `suppressed` (never sent, never counted as failed).
 *
 * The bounce fields of an item's hash: `bs` status, `br` reason, `bh` 1 when
 * hard, `bg` diagnostic, `ba` time (ms).
 */
import type { Redis } from 'ioredis';
import { CampaignKeys, DEFAULT_PREFIX } from './fleet/keys';
import type { BounceRecord } from './ledger';

/** What a bounce entry did to an item. */
export type BounceResult = 'bounced' | 'kept' | 'cleared' | 'unchanged' | 'not-sent' | 'unknown';

/** KEYS: item, counts. ARGV: action, status, reason, hard (1/0), diagnostic. */
const BOUNCE = `
local key, counts = KEYS[1], KEYS[2]
local action = ARGV[1]
local s = redis.call('HGET', key, 's')
if not s then return 'unknown' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if s == 'bounced' then
  if redis.call('HGET', key, 'bh') == '1' then return 'kept' end
  if action == 'failed' then
    redis.call('HSET', key, 'bs', ARGV[2], 'br', ARGV[3], 'bh', ARGV[4], 'bg', ARGV[5], 'ba', now)
    return 'bounced'
  end
  if action == 'delivered' or action == 'relayed' or action == 'expanded' then
    redis.call('HSET', key, 's', 'sent', 'a', now)
    redis.call('HDEL', key, 'bs', 'br', 'bh', 'bg', 'ba')
    redis.call('HINCRBY', counts, 'bounced', -1)
    redis.call('HINCRBY', counts, 'sent', 1)
    return 'cleared'
  end
  return 'unchanged'
end
if s ~= 'sent' then return 'not-sent' end
if action ~= 'failed' then return 'unchanged' end
redis.call('HSET', key, 's', 'bounced', 'a', now, 'bs', ARGV[2], 'br', ARGV[3], 'bh', ARGV[4], 'bg', ARGV[5], 'ba', now)
redis.call('HINCRBY', counts, 'sent', -1)
redis.call('HINCRBY', counts, 'bounced', 1)
return 'bounced'
`;

/** The suppression set's key. */
function suppressionKey(prefix = DEFAULT_PREFIX): string {
  return `${prefix}suppressed`;
}

/**
 * Records one report entry on an item of a campaign in Redis.
 * TypeScript: `await recordRedisBounce(redis, 'monday', 'a1b2', { action: 'failed', status: '5.1.1', ... })`
 */
export async function recordRedisBounce(
  redis: Redis,
  campaign: string,
  id: string,
  entry: { action: string; status: string; reason: string; hard: boolean; diagnostic: string },
  prefix = DEFAULT_PREFIX,
): Promise<BounceResult> {
  const keys = new CampaignKeys(prefix, campaign);
  const result = await redis.eval(BOUNCE, 2, keys.item(id), keys.counts, entry.action, entry.status, entry.reason, entry.hard ? '1' : '0', entry.diagnostic.slice(0, 1000));
  return result as BounceResult;
}

/** The bounce an item in Redis carries, if any. */
export async function redisBounceOf(redis: Redis, campaign: string, id: string, prefix = DEFAULT_PREFIX): Promise<BounceRecord | undefined> {
  const f = await redis.hmget(new CampaignKeys(prefix, campaign).item(id), 'bs', 'br', 'bh', 'bg', 'ba');
  if (f[0] === null) return undefined;
  return { status: f[0], reason: f[1] ?? '', hard: f[2] === '1', diagnostic: f[3] ?? '', at: new Date(Number(f[4] ?? 0)).toISOString() };
}

/** Adds addresses to the fleet's suppression set; returns how many were new. */
export async function addRedisSuppression(redis: Redis, addresses: readonly string[], prefix = DEFAULT_PREFIX): Promise<number> {
  if (addresses.length === 0) return 0;
  return redis.sadd(suppressionKey(prefix), ...addresses.map((a) => a.trim().toLowerCase()));
}

/** True when the address is in the fleet's suppression set. */
export async function isRedisSuppressed(redis: Redis, address: string, prefix = DEFAULT_PREFIX): Promise<boolean> {
  return (await redis.sismember(suppressionKey(prefix), address.trim().toLowerCase())) === 1;
}
