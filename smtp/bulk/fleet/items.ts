/**
 * An item as the enqueuer hands it over, and as Redis stores it: its id (the
 * caller's, else identity.rowId of the row), its digest (identity.itemDigest:
 * sender, the one recipient, the template and the row's values), the one
 * recipient and the row's values.
 */
import { InvalidInputError } from '../../../lib/errors';
import { parseaddress } from '../../../mime';
import { itemDigest, rowId } from '../identity';
import { checkItemId } from './keys';

/** One message to one recipient. */
export interface FleetItem {
  /** The caller's id; default identity.rowId(recipient, values). */
  id?: string;
  /** The one envelope recipient: a single mailbox (`local@domain`). */
  recipient: string;
  /** The row's values by field name, for the renderer. */
  values?: Readonly<Record<string, string>>;
  /** Set when validation refused the row: it is stored as `invalid` with this reason and never sent. */
  invalid?: string;
  /** Set when the recipient is on a suppression list given at enqueue time: stored as `suppressed`, never sent. */
  suppressed?: boolean;
}

/** Where items come from: a list, an iterable, or a function giving a fresh iterable (read twice: check, then store). */
export type ItemSource = Iterable<FleetItem> | AsyncIterable<FleetItem> | (() => Iterable<FleetItem> | AsyncIterable<FleetItem>);

/** An item ready to store. @internal */
export interface PreparedItem {
  id: string;
  digest: string;
  recipient: string;
  values: string;
  state: 'pending' | 'invalid' | 'suppressed';
  diagnostic: string;
}

/**
 * Checks and prepares one item. @internal
 * @throws InvalidInputError for a recipient that is not one mailbox, values that are not strings, or a bad id.
 */
export function prepareItem(item: FleetItem, sender: string, templateDigest: string, ordinal: number): PreparedItem {
  if (typeof item !== 'object' || item === null) throw new InvalidInputError(`item #${ordinal}`, 'expected { recipient, values, id? }');
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(item.values ?? {})) {
    if (typeof value !== 'string') throw new InvalidInputError(`item #${ordinal} field ${JSON.stringify(name)}`, `values must be strings, not ${typeof value}`);
    values[name] = value;
  }
  const recipient = typeof item.recipient === 'string' ? item.recipient.trim() : '';
  const invalid = typeof item.invalid === 'string' && item.invalid !== '' ? item.invalid : '';
  if (!invalid && !isOneMailbox(recipient)) {
    throw new InvalidInputError(`item #${ordinal} recipient`, `must be exactly one mailbox (local@domain), not ${JSON.stringify(item.recipient)}; mark the row invalid to keep it out`);
  }
  const id = item.id === undefined ? rowId(recipient, values) : checkItemId(item.id);
  const digest = itemDigest({ sender, recipient, template: templateDigest, values });
  const stored = { id, digest, recipient, values: JSON.stringify(values) };
  if (invalid) return { ...stored, state: 'invalid', diagnostic: invalid };
  if (item.suppressed === true) return { ...stored, state: 'suppressed', diagnostic: 'on the suppression list' };
  return { ...stored, state: 'pending', diagnostic: '' };
}

/**
 * Exactly one mailbox, written as `local@domain` alone: no display name,
 * comment, group, route or second address, nothing to fix up. This is the
 * one envelope recipient of the item, and nothing else may become a RCPT.
 */
export function isOneMailbox(text: string): boolean {
  if (/[\x00-\x1f\x7f]/.test(text)) return false;
  const list = parseaddress(text);
  if (list.length !== 1) return false;
  const [info] = list;
  return info.error === '' && info.domain !== '' && info.phrase === '' && info.comment === '' && info.route === '' && info.group === '' && info.address === text.trim();
}

/** Reads a source in chunks. @internal */
export async function* chunksOf(source: Iterable<FleetItem> | AsyncIterable<FleetItem>, size: number): AsyncIterable<FleetItem[]> {
  let chunk: FleetItem[] = [];
  for await (const item of source) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
