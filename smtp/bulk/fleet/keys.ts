/**
 * Where the fleet keeps things in Redis. Every key starts with the prefix
 * (`tclmail:` by default); a campaign's keys share `<prefix>c:<campaign>:`.
 *
 * - `campaigns`: set of campaign names.
 * - `c:<name>:meta`: hash: manifest (campaign, listDigest, total, createdAt), sender, rate, status, template digest, attachment names, options.
 * - `c:<name>:tpl`: hash of bytes: `t` the template, `a<n>` attachment n.
 * - `c:<name>:i:<id>`: hash per item (see scripts.ts for the fields).
 * - `c:<name>:v`: hash of each item's row values (JSON) by id.
 * - `c:<name>:order`: list of ids in list order.
 * - `c:<name>:counts`: hash of counts by state.
 * - `c:<name>:due`: sorted set of deferred (and retried-and-held) ids by due time (ms).
 * - `c:<name>:bucket`: the rate's token bucket.
 * - `w:<worker>`: a live worker's lease (expires unless renewed).
 */
import { FleetError } from './errors';

/** The default key prefix. */
export const DEFAULT_PREFIX = 'tclmail:';

/** BullMQ's prefix and queue name: its keys are `tclmail:fleet:*`. */
export const QUEUE_PREFIX = 'tclmail';
export const QUEUE_NAME = 'fleet';

/** Campaign names: safe in a Redis key, a BullMQ job id and a file name. */
const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** @throws FleetError `ECAMPAIGN` for a name that is not 1-100 of letters, digits, `.`, `_`, `-` (starting with a letter or digit). */
export function checkCampaignName(name: unknown): string {
  if (typeof name !== 'string' || !CAMPAIGN_NAME.test(name)) {
    throw new FleetError('ECAMPAIGN', `a campaign name is 1 to 100 letters, digits, ".", "_" or "-" starting with a letter or digit, not ${JSON.stringify(name)}`);
  }
  return name;
}

/** Item ids: printable, no spaces, at most 200 characters (they become part of a key). */
const ITEM_ID = /^[\x21-\x7e]{1,200}$/;

export function checkItemId(id: unknown): string {
  if (typeof id !== 'string' || !ITEM_ID.test(id)) {
    throw new FleetError('ECAMPAIGN', `an item id is 1 to 200 printable ASCII characters without spaces, not ${JSON.stringify(id)}`);
  }
  return id;
}

/** The keys of one campaign. */
export class CampaignKeys {
  readonly base: string;
  constructor(
    readonly prefix: string,
    readonly campaign: string,
  ) {
    this.base = `${prefix}c:${campaign}:`;
  }
  get meta(): string {
    return `${this.base}meta`;
  }
  get template(): string {
    return `${this.base}tpl`;
  }
  get order(): string {
    return `${this.base}order`;
  }
  get counts(): string {
    return `${this.base}counts`;
  }
  /** Hash of every item's values (JSON) by id: kept apart so that item hashes stay small (listpack-encoded). */
  get values(): string {
    return `${this.base}v`;
  }
  get due(): string {
    return `${this.base}due`;
  }
  get bucket(): string {
    return `${this.base}bucket`;
  }
  item(id: string): string {
    return `${this.base}i:${id}`;
  }
}

export function campaignsKey(prefix: string): string {
  return `${prefix}campaigns`;
}

/** The key of a BullMQ job's hash: it exists while the job is queued, delayed, active or failed. */
export function jobKey(jobId: string): string {
  return `${QUEUE_PREFIX}:${QUEUE_NAME}:${jobId}`;
}

export function workerKey(prefix: string, worker: string): string {
  return `${prefix}w:${worker}`;
}
