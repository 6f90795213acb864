/**
 * The typed errors of the fleet (BullMQ + Redis). Each has a stable `code`
 * that a program (and the CLI's exit codes) can switch on. Changed items and
 * refused ledger writes use the shared contract's errors (../ledger.ts).
 */
import { InvalidInputError } from '../../../lib/errors';
import { LedgerError } from '../ledger';

export { ChangedItemsError } from '../ledger';

/** Stable codes of {@link FleetError}. */
export type FleetErrorCode =
  | 'EDEPENDENCY' // bullmq or ioredis is not installed
  | 'EDURABILITY' // Redis does not persist every write, and unsafe Redis was not allowed
  | 'ECAMPAIGN' // an unknown campaign, a bad campaign name, or a campaign that does not match
  | 'EREDIS'; // a Redis URL or connection setting that cannot work

/** An error of the fleet. */
export class FleetError extends Error {
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FleetError';
  }
}

/** What Redis answered to a refused write, and the contract's reason for it. */
const REASONS: Record<string, LedgerError['reason']> = { 'not-holder': 'claimed', missing: 'unknown-item' };

/**
 * A ledger write refused by Redis: another worker holds the item (this one
 * lost its claim: paused past its lease, or cut off), or the item is final.
 * Nothing was changed. A LedgerError of the shared contract (`reason`
 * `claimed`, `final` or `unknown-item`), with what Redis answered.
 */
export class LedgerWriteError extends LedgerError {
  constructor(
    readonly campaign: string,
    readonly id: string,
    /** What the script answered: `not-holder`, `state:<state>`, `missing`. */
    readonly reply: string,
    write: string,
  ) {
    super(
      REASONS[reply] ?? (reply.startsWith('state:') ? 'final' : 'store'),
      `campaign ${campaign}, item ${id}: ${write} refused (${reply}); another worker holds the item or it is final`,
    );
    this.name = 'LedgerWriteError';
  }
}

/** Redis does not persist every write before answering: a crash could then resend messages. */
export class DurabilityError extends FleetError {
  constructor(
    /** What was found, e.g. `appendonly no`, `appendfsync everysec`. */
    readonly found: string,
  ) {
    super(
      'EDURABILITY',
      `Redis does not persist every write (${found}): set appendonly yes and appendfsync always, or pass --allow-unsafe-redis (allowUnsafe) and accept that a Redis crash can resend up to about a second of messages`,
    );
    this.name = 'DurabilityError';
  }
}

/** The list gives one id to two different items, and `clashes: 'skip'` was not asked for. */
export class RepeatedIdError extends InvalidInputError {
  constructor(
    readonly campaign: string,
    /** The first ids given to two items, in list order. */
    readonly ids: readonly string[],
    /** How many later items reuse an earlier item's id. */
    readonly count: number,
  ) {
    super(
      'items',
      `campaign ${JSON.stringify(campaign)}: ${count} item${count === 1 ? '' : 's'} reuse${count === 1 ? 's' : ''} the id of an earlier item of the list with other contents: ` +
        `${ids.map((id) => JSON.stringify(id)).join(', ')}${count > ids.length ? `, and ${count - ids.length} more` : ''}. ` +
        "Give each item its own id, or keep the first of each (clashes: 'skip')",
    );
    this.name = 'RepeatedIdError';
  }
}

/**
 * The list's second read (the store read) differs from its first (the check
 * read): the source changed while it was enqueued. What was checked is stored;
 * enqueuing the list again adds only what is missing.
 */
export class ListChangedError extends FleetError {
  constructor(readonly campaign: string) {
    super(
      'ECAMPAIGN',
      `campaign ${campaign}: the list changed while it was being enqueued (its second read differs from its first); what was stored is kept: enqueue the list again`,
    );
    this.name = 'ListChangedError';
  }
}
