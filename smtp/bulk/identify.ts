/**
 * What one item of a `smtp.sendmany` source is: its token, its own options,
 * its plan, its id and its digest. The id is the caller's, else the
 * Message-ID the message carries; the digest is the caller's, else one made
 * from the envelope and the message (message-digest.ts).
 */
import { InvalidInputError } from '../../lib/errors';
import { parseOptions } from '../../lib/options';
import type { ParsedOptions } from '../../lib/options';
import { getHeaderFields, isToken } from '../../mime';
import type { Token } from '../../mime';
import { isValidDigest } from './ledger';
import { messageDigest } from './message-digest';
import { mergeOptions } from './pool';
import type { SessionPool } from './pool';
import type { Plan, SendMessageOptions } from '../sendmessage';
import { SENDMESSAGE_OPTIONS } from '../sendmessage';

/** An item as the run knows it. */
export interface Identified {
  token: Token;
  plan: Plan;
  /** The id, or undefined when the item has none (no caller id, no Message-ID). */
  id: string | undefined;
  digest: string;
  /** The one recipient shown in reports: the first envelope recipient. */
  recipient: string | undefined;
}

function headerValue(fields: ReadonlyArray<readonly [string, unknown]>, name: string): string | undefined {
  for (const [key, value] of fields) if (key.toLowerCase() === name && typeof value === 'string') return value.trim();
  return undefined;
}

/**
 * Plans an item and names it.
 * @throws InvalidInputError for an item that is not a token or `{ token, options, id, digest }`, or a bad id or digest.
 */
export function identify(item: unknown, ordinal: string, defaults: ParsedOptions, pool: SessionPool): Identified {
  let token: Token;
  let own: ParsedOptions = {};
  let givenId: string | undefined;
  let givenDigest: string | undefined;
  if (isToken(item)) token = item;
  else if (typeof item === 'object' && item !== null && isToken((item as { token?: unknown }).token)) {
    const entry = item as { token: Token; options?: SendMessageOptions; id?: unknown; digest?: unknown };
    token = entry.token;
    if (entry.id !== undefined) {
      if (typeof entry.id !== 'string' || entry.id === '') throw new InvalidInputError('id', `item ${ordinal}: a message id must be a non-empty string`);
      givenId = entry.id;
    }
    if (entry.digest !== undefined) {
      if (!isValidDigest(entry.digest)) throw new InvalidInputError('digest', `item ${givenId ?? ordinal}: a digest must be 16 to 128 characters of hex, base32/64 or -_.:`);
      givenDigest = entry.digest;
    }
    if (entry.options !== undefined) own = parseOptions('smtp.sendmessage', SENDMESSAGE_OPTIONS, [entry.options]);
  } else throw new InvalidInputError('source', `item ${ordinal} is neither a mime token nor { token, options, id, digest }`);
  const merged = mergeOptions(defaults, own);
  const plan = pool.plan(token, own);
  const header = (merged.header as Array<[string, string]> | undefined) ?? [];
  // The id must name the same message in the next run: the caller's, or a Message-ID the message carries.
  const id = givenId ?? headerValue(header, 'message-id') ?? headerValue(getHeaderFields(token).map((f): [string, string] => [f.name, f.value]), 'message-id');
  const digest = givenDigest ?? messageDigest(token, plan.envelope, header);
  return { token, plan, id, digest, recipient: plan.envelope.recipients[0] };
}

/** The Message-ID sendmessage will give a message that has none (for an id without a journal). */
export function plannedMessageId(plan: Plan): string | undefined {
  return headerValue(plan.envelope.addHeaders, 'message-id');
}
