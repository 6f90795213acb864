/**
 * The ledger contract: what every bulk run records about its items, whatever
 * keeps the record. Two implementations stand behind it: the JSON Lines file
 * (one process, the embedded default) and Redis (a fleet of workers on
 * BullMQ). `sendmany`, the CLI, the bounce processor and the dashboard talk
 * only to this contract, so the same states and the same rules hold on both.
 *
 * An item is one message to one recipient. It knows what it is: an `id` (the
 * caller's, or a short digest of the row) and a `digest` of what it means
 * (envelope sender, the one recipient, the template's bytes and the row's
 * values), so that a resume with another list cannot mistake one item for
 * another.
 *
 * The guarantee: an item is recorded `sending` (durably) before its end of
 * data goes out. After a crash such an item is `uncertain` and is never sent
 * again unless the operator asks; an item that never reached `sending` is
 * sent on the resume.
 */
import type { Rejected } from '../../lib/errors';
import type { DomainPlan } from './domains';

/**
 * The states of an item.
 * - `pending`: known, not tried yet (or handed back by a stopped run).
 * - `sending`: its end of data is about to go out, or went out; no final reply recorded.
 * - `deferred`: a temporary failure; it will be tried again (`due` says when).
 * - `sent`: the server took it (`rejected` may list refused recipients of an item with several).
 * - `refused`: the server refused the sender, the recipient or the message for good (5xx).
 * - `failed`: not sent: retries used up, no server, TLS or AUTH failure, bad input at send time.
 * - `uncertain`: was `sending` when its run or worker died: it may have been delivered.
 * - `invalid`: the row was refused by validation (several addresses, a group, an empty value).
 * - `suppressed`: the address is on the suppression list; never sent, never counted as failed.
 * - `bounced`: accepted by the relay, then a bounce came back (see {@link BounceRecord}).
 */
export type ItemState = 'pending' | 'sending' | 'deferred' | 'sent' | 'refused' | 'failed' | 'uncertain' | 'invalid' | 'suppressed' | 'bounced';

export const ITEM_STATES: readonly ItemState[] = ['pending', 'sending', 'deferred', 'sent', 'refused', 'failed', 'uncertain', 'invalid', 'suppressed', 'bounced'];

/** States after which the item is never sent again by a plain resume. */
export const FINAL_STATES: ReadonlySet<ItemState> = new Set<ItemState>(['sent', 'refused', 'failed', 'uncertain', 'invalid', 'suppressed', 'bounced']);

/** The first line of a file journal, and the campaign record in Redis. */
export interface CampaignManifest {
  /** The campaign's name (the journal's file name by default). */
  campaign: string;
  /** Digest of the whole list as validated (every item's id and digest, in order). */
  listDigest: string;
  /** How many items the list holds (valid and invalid). */
  total: number;
  /** When the campaign was first recorded (ISO 8601). */
  createdAt: string;
  /** How many items go to each recipient domain (the file journal records it from the checked list). */
  domains?: DomainPlan;
}

/** How a bounce report changed an item (written by the bounce processor). */
export interface BounceRecord {
  /** RFC 3463 status, e.g. `5.1.1`. */
  status: string;
  /** The reason word (`userunknown`, `mailboxfull`, ...). */
  reason: string;
  /** True when retrying the address is pointless. */
  hard: boolean;
  diagnostic: string;
  /** When the bounce was processed (ISO 8601). */
  at: string;
}

/** What the ledger knows about one item. */
export interface LedgerItem {
  id: string;
  digest: string;
  state: ItemState;
  /** The one envelope recipient (for reports, domains and suppression). */
  recipient?: string;
  /** The SMTP reply code of the outcome, when there was one. */
  code?: number | null;
  /** The server's text or the error's message. */
  diagnostic?: string;
  /** Refused recipients of a `sent` or `refused` outcome. */
  rejected?: Rejected[];
  /** Tries made so far. */
  attempts?: number;
  /** When the latest state was recorded (ISO 8601). */
  at?: string;
  /** Set when a bounce came back for an item that was `sent`. */
  bounce?: BounceRecord;
  /** The Message-ID a `sent` item went out with, where the ledger records it. */
  messageId?: string;
}

/** Counts by state, as `tclmail bulk --status --json` prints them. */
export type CampaignCounts = { campaign: string; total: number; done: number } & Record<ItemState, number>;

/** The outcome of a try that ended the item's sending. */
export interface OutcomeRecord {
  state: 'sent' | 'refused' | 'failed';
  code?: number | null;
  diagnostic?: string;
  rejected?: Rejected[];
  /** The Message-ID the message went out with (for bounces that quote only it). */
  messageId?: string;
}

/**
 * What a ledger offers. Every write resolves once it is durable (fsynced, or
 * acknowledged by a Redis that persists every write). A write for an item that
 * this holder may not change (another worker claimed it; the item is final)
 * rejects with a LedgerError and changes nothing.
 */
export interface Ledger {
  readonly campaign: string;
  /** Records `sending`: call it just before the end of data goes out. */
  markSending(id: string): Promise<void>;
  /** Records a temporary failure; the item will be tried again after `dueMs` (epoch milliseconds). */
  markDeferred(id: string, detail: { code?: number | null; diagnostic?: string; dueMs?: number }): Promise<void>;
  /** Records the final outcome of a try. */
  markOutcome(id: string, outcome: OutcomeRecord): Promise<void>;
  /** The record of one item. */
  lookup(id: string): Promise<LedgerItem | undefined>;
  /** Counts by state. */
  counts(): Promise<CampaignCounts>;
  /** Every item, optionally only those in the given states, in list order where the store keeps one. */
  items(filter?: { states?: readonly ItemState[] }): AsyncIterable<LedgerItem>;
  /** Releases the ledger (the file lock; the Redis connection). */
  close(): Promise<void>;
}

/** Empty counts for a campaign, to add to. */
export function emptyCounts(campaign: string, total = 0): CampaignCounts {
  const counts = { campaign, total, done: 0 } as CampaignCounts;
  for (const state of ITEM_STATES) counts[state] = 0;
  return counts;
}

/**
 * A ledger refused a write or a read: the item is final, another holder
 * claimed it, the store is damaged or locked. `reason` says which, stably.
 */
export class LedgerError extends Error {
  readonly code = 'ELEDGER' as const;
  constructor(
    readonly reason: 'final' | 'claimed' | 'unknown-item' | 'damaged' | 'locked' | 'closed' | 'store',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LedgerError';
  }
}

/** How many changed ids a {@link ChangedItemsError} names. */
export const CHANGED_IDS_SHOWN = 20;

/**
 * A resume (or a second enqueue) brought items whose id the ledger knows with
 * another digest: the list or the template changed since the campaign began.
 * Raised before anything is sent; `acceptChanged` (`--accept-changed`) says
 * the operator means it and records the new digests.
 */
export class ChangedItemsError extends Error {
  readonly code = 'ECHANGED' as const;
  constructor(
    readonly campaign: string,
    /** The first {@link CHANGED_IDS_SHOWN} changed ids, in list order. */
    readonly ids: readonly string[],
    /** How many items changed in all. */
    readonly count: number,
  ) {
    super(
      `campaign ${JSON.stringify(campaign)}: ${count} item${count === 1 ? '' : 's'} changed since ${count === 1 ? 'it was' : 'they were'} recorded ` +
        `(same id, another digest): ${ids.map((id) => JSON.stringify(id)).join(', ')}${count > ids.length ? `, and ${count - ids.length} more` : ''}. ` +
        'Nothing was sent. Use the list the campaign began with, or accept the change (acceptChanged / --accept-changed).',
    );
    this.name = 'ChangedItemsError';
  }
}

/** Collects ids of one kind as a list is checked: the first {@link CHANGED_IDS_SHOWN} and the count. */
export class IdTally {
  readonly ids: string[] = [];
  count = 0;

  add(id: string): void {
    if (this.ids.length < CHANGED_IDS_SHOWN) this.ids.push(id);
    this.count++;
  }
}

/** Collects changed ids as a list is checked. */
export class ChangedItems extends IdTally {
  /** Throws the error when any item changed. */
  check(campaign: string): void {
    if (this.count > 0) throw new ChangedItemsError(campaign, this.ids, this.count);
  }
}

/**
 * What a ledger knows about an id at admission: whether it holds the same
 * digest, and its state. Both ledgers answer this before an item is sent.
 */
export interface Admission {
  /** `new`: the ledger has no record of the id; `same`: the recorded digest is the one given; `changed`: another digest. */
  match: 'new' | 'same' | 'changed';
  /** The recorded state (`pending` for a new id). */
  state: ItemState;
}

/** A digest a ledger accepts: 16 to 128 characters of hex, base32/64 or `-_.:`. */
export function isValidDigest(digest: unknown): digest is string {
  return typeof digest === 'string' && /^[A-Za-z0-9+/=_.:-]{16,128}$/.test(digest);
}
