/**
 * The ledger contract (../ledger.ts) on Redis. One instance is one holder's
 * view of a campaign: its writes carry the holder's claim token, and Redis
 * refuses them (LedgerWriteError) when another worker holds the item or the
 * item is final.
 */
import type { Rejected } from '../../../lib/errors';
import { type CampaignCounts, emptyCounts, FINAL_STATES, ITEM_STATES, type ItemState, type Ledger, type LedgerItem, type OutcomeRecord } from '../ledger';
import { LedgerWriteError } from './errors';
import { type CampaignKeys } from './keys';
import type { FleetRedis } from './scripts';

/** What a claim found for one item. */
export type ClaimStatus = 'claimed' | 'held' | 'later' | 'final' | 'uncertain' | 'missing';

/** An item this holder claimed: what the renderer needs. */
export interface ClaimedItem {
  id: string;
  recipient: string;
  /** The row's values by field name. */
  values: Record<string, string>;
  /** Tries made before this one. */
  attempts: number;
}

const DIAGNOSTIC_LIMIT = 1000;

function text(value: string | undefined): string {
  return (value ?? '').slice(0, DIAGNOSTIC_LIMIT);
}

function parseValues(json: string): Record<string, string> {
  try {
    const values = JSON.parse(json) as unknown;
    return typeof values === 'object' && values !== null ? (values as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Reads an item's hash into the contract's shape. */
export function itemOf(id: string, h: Record<string, string>): LedgerItem {
  const item: LedgerItem = { id, digest: h.d ?? '', state: (h.s as ItemState | undefined) ?? 'pending' };
  if (h.r) item.recipient = h.r;
  if (h.c !== undefined && h.c !== '') item.code = Number(h.c);
  if (h.g) item.diagnostic = h.g;
  if (h.j) item.rejected = JSON.parse(h.j) as Rejected[];
  if (h.n !== undefined) item.attempts = Number(h.n);
  if (h.a) item.at = new Date(Number(h.a)).toISOString();
  return item;
}

/** Counts by state of a campaign, from its counts hash (O(1)). */
export async function campaignCounts(redis: FleetRedis, keys: CampaignKeys): Promise<CampaignCounts> {
  const [counts, total] = await Promise.all([redis.hgetall(keys.counts), redis.hget(keys.meta, 'total')]);
  const result = emptyCounts(keys.campaign, Number(total ?? 0));
  for (const state of ITEM_STATES) {
    result[state] = Number(counts[state] ?? 0);
    if (FINAL_STATES.has(state)) result.done += result[state];
  }
  return result;
}

/** Every item of a campaign in list order, read in pages. */
export async function* campaignItems(redis: FleetRedis, keys: CampaignKeys, filter?: { states?: readonly ItemState[] }, page = 500): AsyncIterable<LedgerItem> {
  const wanted = filter?.states ? new Set(filter.states) : null;
  for (let start = 0; ; start += page) {
    const ids = await redis.lrange(keys.order, start, start + page - 1);
    if (ids.length === 0) return;
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.item(id));
    const results = (await pipeline.exec()) ?? [];
    for (let i = 0; i < ids.length; i++) {
      const [error, hash] = results[i];
      if (error) throw error;
      const item = itemOf(ids[i], hash as Record<string, string>);
      if (!wanted || wanted.has(item.state)) yield item;
    }
    if (ids.length < page) return;
  }
}

/** One holder's ledger of one campaign in Redis. */
export class RedisLedger implements Ledger {
  /** Tries of each item this holder claimed, counting the one under way. */
  private readonly tries = new Map<string, number>();

  constructor(
    private readonly redis: FleetRedis,
    readonly keys: CampaignKeys,
    /** The claim token: `<worker>:<run>`. */
    readonly token: string,
    private readonly onClose?: () => Promise<void>,
  ) {}

  get campaign(): string {
    return this.keys.campaign;
  }

  /** Claims items of a batch for this holder. */
  async claim(ids: readonly string[]): Promise<Array<{ id: string; status: ClaimStatus; item?: ClaimedItem }>> {
    if (ids.length === 0) return [];
    const reply = await this.redis.tclmailClaim(this.keys.counts, this.keys.due, this.keys.prefix, this.keys.base, this.token, ...ids);
    return ids.map((id, i) => {
      const status = reply[i * 4] as ClaimStatus;
      if (status !== 'claimed') return { id, status };
      return { id, status, item: this.claimed(id, reply, i * 4 + 1) };
    });
  }

  /** Claims up to `limit` deferred items that are due; each stays reserved for `leaseMs` in the due set. */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedItem[]> {
    const reply = await this.redis.tclmailClaimDue(this.keys.due, this.keys.counts, this.keys.prefix, this.keys.base, this.token, String(limit), String(leaseMs));
    const items: ClaimedItem[] = [];
    for (let i = 0; i < reply.length; i += 4) items.push(this.claimed(reply[i], reply, i + 1));
    return items;
  }

  /** An item the claim scripts return as recipient, values and tries made, from `at`; its try under way is counted. */
  private claimed(id: string, reply: readonly string[], at: number): ClaimedItem {
    const item = { id, recipient: reply[at], values: parseValues(reply[at + 1]), attempts: Number(reply[at + 2] || 0) };
    this.tries.set(id, item.attempts + 1);
    return item;
  }

  private triesOf(id: string): string {
    return String(this.tries.get(id) ?? 1);
  }

  private check(id: string, reply: string, write: string): void {
    if (reply !== 'ok') throw new LedgerWriteError(this.campaign, id, reply, write);
  }

  async markSending(id: string): Promise<void> {
    this.check(id, await this.redis.tclmailSending(this.keys.item(id), this.keys.counts, this.token, this.triesOf(id)), 'sending');
  }

  async markDeferred(id: string, detail: { code?: number | null; diagnostic?: string; dueMs?: number }): Promise<void> {
    const due = String(Math.round(detail.dueMs ?? Date.now()));
    const reply = await this.redis.tclmailDeferred(this.keys.item(id), this.keys.counts, this.keys.due, this.token, this.triesOf(id), String(detail.code ?? ''), text(detail.diagnostic), due, id);
    this.tries.delete(id);
    this.check(id, reply, 'deferred');
  }

  async markOutcome(id: string, outcome: OutcomeRecord): Promise<void> {
    await this.settle(id, outcome.state, outcome.code, outcome.diagnostic, outcome.rejected);
  }

  /** Records that the end of data went out and no final reply came back. */
  async markUncertain(id: string, diagnostic: string): Promise<void> {
    await this.settle(id, 'uncertain', null, diagnostic, []);
  }

  private async settle(id: string, state: ItemState, code: number | null | undefined, diagnostic: string | undefined, rejected: Rejected[] | undefined): Promise<void> {
    const reply = await this.redis.tclmailOutcome(
      this.keys.item(id), this.keys.counts, this.keys.due,
      this.token, state, this.triesOf(id), String(code ?? ''), text(diagnostic), rejected && rejected.length > 0 ? JSON.stringify(rejected) : '', id,
    );
    this.tries.delete(id);
    this.check(id, reply, state);
  }

  /** Records that the item's address is on the suppression list: never sent, not a failure. */
  async markSuppressed(id: string): Promise<void> {
    await this.settle(id, 'suppressed', null, 'on the suppression list', []);
  }

  /** Hands back a claimed item that was not sent (the worker is stopping). */
  async release(id: string): Promise<void> {
    this.tries.delete(id);
    await this.redis.tclmailRelease(this.keys.item(id), this.token);
  }

  async lookup(id: string): Promise<LedgerItem | undefined> {
    const hash = await this.redis.hgetall(this.keys.item(id));
    return hash.s === undefined ? undefined : itemOf(id, hash);
  }

  counts(): Promise<CampaignCounts> {
    return campaignCounts(this.redis, this.keys);
  }

  items(filter?: { states?: readonly ItemState[] }): AsyncIterable<LedgerItem> {
    return campaignItems(this.redis, this.keys, filter);
  }

  async close(): Promise<void> {
    await this.onClose?.();
  }
}
