/**
 * The typed errors of the fleet (BullMQ + Redis). Each has a stable `code`
 * that a program (and the CLI's exit codes) can switch on.
 */

/** Stable codes of {@link FleetError}. */
export type FleetErrorCode =
  | 'EDEPENDENCY' // bullmq or ioredis is not installed
  | 'EDURABILITY' // Redis does not persist every write, and unsafe Redis was not allowed
  | 'ECHANGED' // items already stored under the same id mean something else now
  | 'ELEDGER' // a ledger write this holder may not make (another worker claimed the item, or it is final)
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

/**
 * Items already stored under the same id with another digest: the list was
 * edited (another recipient, other values, another template). Nothing was
 * stored. Pass `acceptChanged` when the change is meant.
 */
export class ChangedItemsError extends FleetError {
  constructor(
    readonly campaign: string,
    /** The first 20 changed ids, in list order. */
    readonly ids: string[],
    /** How many items changed in all. */
    readonly count: number,
  ) {
    const more = count > ids.length ? ` and ${count - ids.length} more` : '';
    super(
      'ECHANGED',
      `campaign ${campaign}: ${count} item(s) already enqueued mean something else now (${ids.join(', ')}${more}); nothing was stored. Pass acceptChanged (--accept-changed) if the change is meant`,
    );
    this.name = 'ChangedItemsError';
  }
}

/**
 * A ledger write refused by Redis: the item is claimed by another worker
 * (this one lost its claim: paused past its lease, or cut off), or it is
 * already final. Nothing was changed.
 */
export class LedgerWriteError extends FleetError {
  constructor(
    readonly campaign: string,
    readonly id: string,
    /** What Redis answered: `not-holder`, `state:<state>`, `missing`. */
    readonly reason: string,
    write: string,
  ) {
    super('ELEDGER', `campaign ${campaign}, item ${id}: ${write} refused (${reason}); another worker holds the item or it is final`);
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
