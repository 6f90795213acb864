/**
 * RFC 3464 section 2.1 / RFC 5965 section 3: the body of a
 * message/delivery-status (or feedback-report) part is a list of field
 * groups separated by empty lines; fields fold as in RFC 5322. Read in one
 * pass with a cap on groups and on the length of one value.
 */
import type { Fields } from './message';

/** Groups read at most (the per-message group and up to this many recipients, less one). */
const MAX_GROUPS = 1000;
/** Characters kept of one unfolded value. */
const MAX_VALUE = 4096;

/** Splits a report body into field groups, names lower-cased, values unfolded and trimmed. */
export function readGroups(text: string): Fields[] {
  const groups: Fields[] = [];
  let group: Fields | null = null;
  let name = '';
  let value = '';
  const flush = (): void => {
    if (name === '' || group === null) return;
    const list = group.get(name);
    const trimmed = value.trim();
    if (list) list.push(trimmed);
    else group.set(name, [trimmed]);
    name = '';
  };
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') {
      flush();
      group = null;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && name !== '') {
      if (value.length < MAX_VALUE) value += ' ' + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0 || colon > 64) continue;
    const field = line.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(field)) continue;
    if (group === null) {
      if (groups.length >= MAX_GROUPS) break;
      group = new Map();
      groups.push(group);
    }
    name = field;
    value = line.slice(colon + 1, colon + 1 + MAX_VALUE);
  }
  flush();
  return groups;
}

/** RFC 3464 section 2.1.2: `type; value` fields; the value alone (the type dropped). */
export function typedValue(raw: string): { type: string; value: string } {
  const semi = raw.indexOf(';');
  if (semi < 0) return { type: '', value: raw.trim() };
  return { type: raw.slice(0, semi).trim().toLowerCase(), value: raw.slice(semi + 1).trim() };
}
