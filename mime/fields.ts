/**
 * mime::getheader and mime::setheader: reading and changing a part's header
 * fields. Every value is checked before anything changes, so a refused call
 * leaves the part exactly as it was.
 */
import { MimeError } from '../lib/errors';
import { parseOptions, type OptionSpecs, type TclWords } from '../lib/options';
import { scanSync } from './build/writer';
import type { BodyStats } from './codec/encoding';
import { contentTypeValue, formatField, isReservedField } from './build/headers';
import { hasParts, type HeaderField, type Part } from './part';
import { effectiveParams, leafPlan } from './build/plan';
import { partOf, type Token } from './tokens';

/**
 * The Content-Transfer-Encoding the part is written with ('' for none): the
 * declared one of a parsed part, the chosen one of a canonical part (which
 * may need a scan of its body).
 */
export function effectiveEncoding(part: Part): string {
  if (hasParts(part)) return part.encoding;
  const plan = leafPlan(part, false);
  let reply: BodyStats | undefined;
  for (;;) {
    const next = plan.next(reply);
    if (next.done) return next.value.cte ?? part.encoding;
    reply = next.value.op === 'scan' ? scanSync(next.value.source, next.value.text, next.value.early) : undefined;
  }
}

function define(target: Record<string, string[]>, name: string, values: string[]): void {
  Object.defineProperty(target, name, { value: values, enumerable: true, writable: true, configurable: true });
}

/**
 * The values of one header field (any case), or every field when `key` is
 * absent: an object in Tcllib's order, MIME-Version first, then the stored
 * fields by the case of their first occurrence, then Content-Transfer-Encoding
 * (when there is one) and Content-Type. `-names` gives the stored field names
 * (the three MIME fields aside). Throws a MimeError (code EHEADER)
 * `key <key> not in header` for a field that is not there.
 *
 * Tcl: `mime::getheader $tok Subject` / `mime::getheader $tok`
 * TypeScript: `mime.getheader(tok, 'Subject')` → `['Hi']` / `mime.getheader(tok)`
 */
export function getheader(token: Token): Record<string, string[]>;
export function getheader(token: Token, key: string): string[];
export function getheader(token: Token, key?: string): string[] | Record<string, string[]> {
  const part = partOf(token, 'mime.getheader');
  if (key === undefined) {
    const all: Record<string, string[]> = {};
    define(all, 'MIME-Version', [part.version]);
    for (const [lower, name] of storedNames(part)) define(all, name, valuesOf(part, lower));
    const encoding = effectiveEncoding(part);
    if (encoding !== '') define(all, 'Content-Transfer-Encoding', [encoding]);
    define(all, 'Content-Type', [contentTypeValue(part.content, effectiveParams(part))]);
    return all;
  }
  if (typeof key !== 'string') throw new MimeError(`mime.getheader: the key must be a string, not ${typeof key}`, 'EHEADER');
  const lower = key.toLowerCase();
  switch (lower) {
    case '-names':
      return [...storedNames(part).values()];
    case 'content-type':
      return [contentTypeValue(part.content, effectiveParams(part))];
    case 'content-transfer-encoding': {
      const encoding = effectiveEncoding(part);
      return encoding === '' ? [] : [encoding];
    }
    case 'mime-version':
      return [part.version];
  }
  const values = valuesOf(part, lower);
  if (values.length === 0) throw new MimeError(`key ${key} not in header`, 'EHEADER');
  return values;
}

/** Each stored field name once (lowercased key, the case of its first occurrence as value), in order. */
function storedNames(part: Part): Map<string, string> {
  const names = new Map<string, string>();
  for (const field of part.headers) {
    const lower = field.name.toLowerCase();
    if (!names.has(lower)) names.set(lower, field.name);
  }
  return names;
}

function valuesOf(part: Part, lower: string): string[] {
  return part.headers.filter((field) => field.name.toLowerCase() === lower).map((field) => field.value);
}

/** The top-level stored fields in order, the three MIME fields aside (for the smtp layer's envelope). @internal */
export function headerFields(part: Part): Array<{ name: string; value: string }> {
  return part.headers.map((field) => ({ name: field.name, value: field.value }));
}

const SETHEADER = {
  mode: { kind: 'string', values: ['write', 'append', 'delete'] },
} as const satisfies OptionSpecs;

/** Options of {@link setheader}. */
export interface SetheaderOptions {
  /** `write` (default) replaces every value, keeping the first field's place and case; `append` adds one; `delete` removes all. */
  mode?: 'write' | 'append' | 'delete';
}

/**
 * Removes the fields at `indexes` (ascending) and keeps a parsed part's
 * layout pointing at the right fields.
 */
function removeFields(part: Part, indexes: number[]): void {
  const gone = new Set(indexes);
  const remap = new Map<number, number>();
  let next = 0;
  part.headers.forEach((_, index) => {
    if (!gone.has(index)) remap.set(index, next++);
  });
  part.headers = part.headers.filter((_, index) => !gone.has(index));
  if (part.rawLayout !== undefined) {
    part.rawLayout.order = part.rawLayout.order
      .filter((entry) => typeof entry !== 'number' || remap.has(entry))
      .map((entry) => (typeof entry === 'number' ? (remap.get(entry) as number) : entry));
  }
}

/**
 * Writes, appends or deletes a header field and returns the values it had.
 * Refuses, without changing anything: a name or value that could not be
 * written safely (CR, LF or NUL; a name with space, colon or non-ASCII) with
 * an InvalidInputError; Content-Type, Content-Transfer-Encoding, Content-MD5
 * and MIME-Version (`key <key> may not be set`) and deleting a field that is
 * not there (`key <key> not in header`) with a MimeError (code EHEADER).
 *
 * Tcl: `mime::setheader $tok Subject "Hi again" -mode append`
 * TypeScript: `mime.setheader(tok, 'Subject', 'Hi again', { mode: 'append' })`
 */
export function setheader(token: Token, key: string, value: string, options?: SetheaderOptions): string[];
export function setheader(token: Token, key: string, value: string, ...flat: TclWords): string[];
export function setheader(token: Token, key: string, value: string, ...args: unknown[]): string[] {
  const part = partOf(token, 'mime.setheader');
  const mode = parseOptions('mime.setheader', SETHEADER, args).mode ?? 'write';
  const lower = typeof key === 'string' ? key.toLowerCase() : '';
  if (mode === 'delete') {
    // The value is not written, but a name that could never be a field is still refused.
    formatField(key, '');
  } else {
    formatField(key, value);
  }
  if (isReservedField(lower)) throw new MimeError(`key ${key} may not be set`, 'EHEADER');

  const indexes: number[] = [];
  part.headers.forEach((field, index) => {
    if (field.name.toLowerCase() === lower) indexes.push(index);
  });
  const previous = indexes.map((index) => part.headers[index].value);
  switch (mode) {
    case 'delete':
      if (indexes.length === 0) throw new MimeError(`key ${key} not in header`, 'EHEADER');
      removeFields(part, indexes);
      break;
    case 'append': {
      const field: HeaderField = { name: indexes.length > 0 ? part.headers[indexes[0]].name : key, value };
      part.headers.push(field);
      part.rawLayout?.order.push(part.headers.length - 1);
      break;
    }
    default:
      if (indexes.length === 0) {
        part.headers.push({ name: key, value });
        part.rawLayout?.order.push(part.headers.length - 1);
      } else {
        part.headers[indexes[0]] = { name: part.headers[indexes[0]].name, value };
        removeFields(part, indexes.slice(1));
      }
  }
  part.modified = true;
  return previous;
}
