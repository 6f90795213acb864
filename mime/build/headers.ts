/**
 * Header fields on the way out: checking names and values, encoding text that
 * is not plain ASCII (RFC 2047 encoded words, RFC 2231 parameters), and
 * folding (RFC 5322 section 2.2.3). Every field that tclmail writes from a
 * caller's value passes through formatField, which refuses anything that could
 * end the line early or that it cannot represent.
 */
import { libmime } from '../codec/libraries';
import { InvalidInputError } from '../../lib/errors';
import { refuseLineBreaks } from '../../lib/text';
import { LONE_SURROGATE } from '../codec/charsets';
import { withAsciiDomains } from './address-domains';

/** Folding aims for lines of this many octets (RFC 5322 section 2.1.1 "SHOULD")... */
export const FOLD_AT = 78;
/** ...and never goes past this many (the "MUST"). */
export const LINE_LIMIT = 998;
// A word this long could not share a line with its field name: it goes out as encoded words, which can be split.
const LONG_WORD = 900;

/**
 * The fields the builder writes from the part itself (its type, its encoding,
 * the MIME version), which no caller may set: Tcllib's rule for setheader, for
 * initialize's -header and for sendmessage's -header. This is the one list;
 * each command words its refusal as Tcllib does.
 */
const RESERVED_FIELDS = new Set(['content-type', 'content-transfer-encoding', 'content-md5', 'mime-version']);

/** True for a field only the builder writes (any case): see RESERVED_FIELDS. */
export function isReservedField(name: string): boolean {
  return RESERVED_FIELDS.has(name.toLowerCase());
}

// RFC 5322 section 3.6.8: a field name is printable US-ASCII other than the colon.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** True when `name` is a field name (RFC 5322 ftext: printable ASCII, no colon). The one test of a field name. */
export function isFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

const ADDRESS_FIELDS = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'dcc',
  'resent-from', 'resent-sender', 'resent-reply-to', 'resent-to', 'resent-cc', 'resent-bcc',
  'disposition-notification-to', 'return-receipt-to', 'mail-followup-to', 'mail-reply-to',
]);
const MESSAGE_ID_FIELDS = new Set(['message-id', 'content-id', 'in-reply-to', 'references', 'resent-message-id']);
const PARAMETER_FIELDS = new Set(['content-disposition']);

const TSPECIALS = '()<>@,;:\\"/[]?=';

/** RFC 2045 token: printable US-ASCII except SPACE and tspecials. */
export function isMimeToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || TSPECIALS.includes(text[i])) return false;
  }
  return true;
}

/** Throws an InvalidInputError unless `name` is a field name (RFC 5322 ftext: printable ASCII, no colon). */
export function checkFieldName(name: string): void {
  if (typeof name === 'string' && isFieldName(name)) return;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidInputError('header name', 'a header field name may not be empty');
  }
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 33 || code > 126 || code === 0x3a) {
      const what = code === 0x3a ? 'a colon' : code === 0x20 ? 'a space' : `character 0x${code.toString(16).padStart(2, '0')}`;
      throw new InvalidInputError(`header name ${JSON.stringify(name)}`, `${what} at offset ${i} is not allowed in a field name`);
    }
  }
}

/** Throws an InvalidInputError when a value could break the line (CR, LF, NUL) or cannot be encoded (a lone surrogate). */
export function checkFieldValue(name: string, value: string): void {
  if (typeof value !== 'string') {
    throw new InvalidInputError(`header ${name}`, `a header value must be a string, not ${typeof value}`);
  }
  refuseLineBreaks(`header ${name}`, value);
  if (LONE_SURROGATE.test(value)) {
    throw new InvalidInputError(`header ${name}`, 'the value holds a lone UTF-16 surrogate, which no charset can carry');
  }
}

const NEEDS_WORD_ENCODING = /[^\x20-\x7e]|=\?/;
// A word the caller encoded already (mime.word_encode) is passed on as it is.
const ENCODED_WORD = /^=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=$/;

function encodedWords(text: string): string[] {
  let wide = 0;
  for (const char of text) if (char.charCodeAt(0) > 0x7e || char.charCodeAt(0) < 0x20) wide++;
  // Q keeps mostly-ASCII text readable; B is shorter once a third of it needs escapes.
  const method = wide * 3 > text.length ? 'B' : 'Q';
  return libmime().encodeWord(text, method, 75).split(' ');
}

interface Item {
  text: string;
  space: boolean;
  mark: boolean;
  /** An encoded word as the caller gave it. */
  encoded: boolean;
}

/**
 * Unstructured text (RFC 5322 section 3.2.5) as atoms: words that need it
 * become encoded words, with the white space between neighbouring encoded
 * words moved inside them (a decoder drops white space between encoded
 * words). White space at either end is kept the same way, as are runs too
 * long to fold.
 */
function unstructuredAtoms(value: string): { atoms: string[]; separators: string[] } {
  const items: Item[] = value
    .split(/([ \t]+)/)
    .filter((piece) => piece !== '')
    .map((text) => {
      const space = text[0] === ' ' || text[0] === '\t';
      const encoded = !space && ENCODED_WORD.test(text);
      const mark = space ? text.length > LONG_WORD : !encoded && (NEEDS_WORD_ENCODING.test(text) || text.length > LONG_WORD);
      return { text, space, mark, encoded };
    });
  if (items.length > 0 && items[0].space) items[0].mark = true;
  if (items.length > 0 && items[items.length - 1].space) items[items.length - 1].mark = true;
  // A marked run of white space drags its neighbours into the encoded group.
  items.forEach((item, i) => {
    if (item.space && item.mark) {
      if (i > 0) items[i - 1].mark = true;
      if (i + 1 < items.length) items[i + 1].mark = true;
    }
  });

  const atoms: string[] = [];
  const separators: string[] = [];
  let pendingSeparator = '';
  const addAtom = (atom: string, separator: string): void => {
    if (atoms.length > 0) separators.push(separator);
    atoms.push(atom);
  };
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item.mark) {
      if (item.space) pendingSeparator = item.text;
      else {
        addAtom(item.text, pendingSeparator);
        pendingSeparator = '';
      }
      continue;
    }
    let j = i;
    let text = item.text;
    // White space between the caller's encoded word and ours would be dropped by a decoder: carry it inside ours.
    if (pendingSeparator !== '' && items[i - 2]?.encoded) {
      text = pendingSeparator + text;
      pendingSeparator = ' ';
    }
    for (;;) {
      const next = items[j + 1];
      if (next === undefined) break;
      if (next.mark) {
        text += next.text;
        j += 1;
      } else if (next.space && items[j + 2]?.mark) {
        text += next.text + items[j + 2].text;
        j += 2;
      } else break;
    }
    let after = '';
    if (items[j + 1]?.space && items[j + 2]?.encoded) {
      text += items[j + 1].text;
      after = ' ';
      j += 1;
    }
    encodedWords(text).forEach((word, k) => addAtom(word, k === 0 ? pendingSeparator || ' ' : ' '));
    pendingSeparator = after;
    i = j;
  }
  return { atoms, separators };
}

/** Splits structured text into atoms at runs of SP/TAB: RFC 5322 allows folding there, inside quoted strings and comments too. */
function plainAtoms(value: string): { atoms: string[]; separators: string[] } {
  const pieces = value.trim().split(/([ \t]+)/);
  const atoms: string[] = [];
  const separators: string[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    if (pieces[i] === '') continue;
    if (atoms.length > 0) separators.push(pieces[i - 1]);
    atoms.push(pieces[i]);
  }
  return { atoms, separators };
}

/** Where `text` has a character outside quoted strings, comments and angle brackets, at depth 0. */
function topLevel(text: string, wanted: string): number[] {
  const found: number[] = [];
  let quoted = false;
  let comment = 0;
  let angle = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && (quoted || comment > 0)) {
      i++;
      continue;
    }
    if (quoted) {
      if (char === '"') quoted = false;
      continue;
    }
    if (comment > 0) {
      if (char === '(') comment++;
      else if (char === ')') comment--;
      continue;
    }
    if (!angle && wanted.includes(char)) found.push(i);
    if (char === '"') quoted = true;
    else if (char === '(') comment++;
    else if (char === '<') angle = true;
    else if (char === '>') angle = false;
  }
  return found;
}

const NON_ASCII_OR_CONTROL = /[^\x20-\x7e\t]/;

/** A phrase (display name) as encoded words when it is not plain ASCII; quotes around it are taken off first. */
function encodePhrase(phrase: string): string {
  const core = phrase.trim();
  if (!NON_ASCII_OR_CONTROL.test(core)) return phrase;
  const lead = phrase.slice(0, phrase.indexOf(core));
  const trail = phrase.slice(lead.length + core.length);
  let text = core;
  if (core.length >= 2 && core.startsWith('"') && core.endsWith('"')) text = core.slice(1, -1).replace(/\\(.)/g, '$1');
  return lead + encodedWords(text).join(' ') + trail;
}

/**
 * An address list with its display names (and group names) encoded, never its
 * addr-specs: an encoded word is not allowed there (RFC 2047 section 5), and a
 * non-ASCII address goes out as UTF-8 (RFC 6532) for the server to accept or not.
 */
function encodeAddressList(value: string): string {
  const cuts = [-1, ...topLevel(value, ',;'), value.length];
  let out = '';
  for (let k = 0; k + 1 < cuts.length; k++) {
    let segment = value.slice(cuts[k] + 1, cuts[k + 1]);
    // A group's display name ends at the first colon, unless that colon comes after an address.
    let colon = topLevel(segment, ':')[0] ?? -1;
    if (colon >= 0 && segment.slice(0, colon).includes('@')) colon = -1;
    if (colon >= 0) {
      const name = encodePhrase(segment.slice(0, colon));
      segment = name + segment.slice(colon);
      colon = name.length;
    }
    const angle = topLevel(segment, '<');
    if (angle.length > 0) {
      const start = colon >= 0 && colon < angle[0] ? colon + 1 : 0;
      segment = segment.slice(0, start) + encodePhrase(segment.slice(start, angle[0])) + segment.slice(angle[0]);
    }
    out += (k > 0 ? value[cuts[k]] : '') + segment;
  }
  return out;
}

// What a parameter value may not hold to go out as it is: controls, DEL, anything beyond ASCII.
const NOT_PLAIN_PARAMETER = /[\x00-\x1f\x7f-\uffff]/;

/** One parameter as `name=value` pieces: quoted when it is not a token, RFC 2231 when it is not plain or too long. */
export function renderParameter(name: string, value: string): string[] {
  if (NOT_PLAIN_PARAMETER.test(value) || value.includes('=?') || value.length >= 75) {
    return libmime().buildHeaderParam(name, value, 50).map((piece) =>
      piece.key.endsWith('*') || isMimeToken(piece.value) ? `${piece.key}=${piece.value}` : `${piece.key}=${quote(piece.value)}`,
    );
  }
  return [`${name}=${isMimeToken(value) ? value : quote(value)}`];
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** `value; a=b; c=d` as atoms that fold between parameters only. */
function parameterAtoms(value: string, params: Iterable<[string, string]>): { atoms: string[]; separators: string[] } {
  const pieces = [value];
  for (const [name, paramValue] of params) pieces.push(...renderParameter(name, paramValue));
  const atoms = pieces.map((piece, i) => (i + 1 < pieces.length ? `${piece};` : piece));
  return { atoms, separators: atoms.slice(1).map(() => ' ') };
}

/** Folds `name: atoms...` greedily at FOLD_AT octets; throws when a line would still pass LINE_LIMIT. */
function fold(name: string, atoms: string[], separators: string[]): string {
  if (atoms.length === 0) return `${name}:`;
  const lines: string[] = [];
  let line = `${name}: ${atoms[0]}`;
  let length = Buffer.byteLength(line);
  for (let i = 1; i < atoms.length; i++) {
    const piece = separators[i - 1] + atoms[i];
    const pieceLength = Buffer.byteLength(piece);
    if (length + pieceLength <= FOLD_AT) {
      line += piece;
      length += pieceLength;
    } else {
      // A fold goes before the last character of the white space, the rest ends the line above:
      // unfolding (RFC 5322 §2.2.3) gives the same text, and so do readers that turn a line
      // break and the white space after it into a single space.
      const separator = separators[i - 1];
      lines.push(line + separator.slice(0, -1));
      line = separator.slice(-1) + atoms[i];
      length = Buffer.byteLength(line);
    }
  }
  lines.push(line);
  for (const folded of lines) {
    if (Buffer.byteLength(folded) > LINE_LIMIT) {
      throw new InvalidInputError(`header ${name}`, `a line of this field would be longer than ${LINE_LIMIT} octets and has no white space to fold at`);
    }
  }
  return lines.join('\r\n');
}

// What the builder itself emits must be free of controls other than TAB (and the folding CRLFs).
function recheck(name: string, text: string): string {
  const bad = /[\x00-\x08\x0a-\x1f\x7f]/.exec(text.replace(/\r\n(?=[ \t])/g, ''));
  if (bad) {
    throw new InvalidInputError(`header ${name}`, `control character 0x${bad[0].charCodeAt(0).toString(16).padStart(2, '0')} cannot be written in this field`);
  }
  return text;
}

/**
 * One header field as it goes on the wire: encoded where needed and folded,
 * lines joined by CRLF, without a final line break. With `asciiDomains` (for
 * a server without SMTPUTF8) the domains of an address field are written as
 * A-labels, so the whole field is 7-bit. Throws an InvalidInputError when the
 * name or value cannot be written safely.
 */
export function formatField(name: string, value: string, asciiDomains = false): string {
  const asciiAddress = asciiDomains && typeof value === 'string' && ADDRESS_FIELDS.has(String(name).toLowerCase());
  if (asciiAddress) value = withAsciiDomains(name, value);
  // Bulk work writes the same fields again and again (a From, a To, a Date within its second).
  const cacheable = value.length <= CACHED_FIELD_LENGTH;
  if (cacheable) {
    const known = recent.get(name)?.get(value);
    if (known !== undefined) return known;
    const kept = older.get(name)?.get(value);
    if (kept !== undefined) {
      // Still in use: it moves to the recent generation, so that it outlives the older one.
      remember(name, value, kept);
      return kept;
    }
  }
  const text = formatFresh(name, value);
  if (asciiAddress && /[^\x00-\x7f]/.test(text)) {
    throw new InvalidInputError(`header ${name}`, 'holds non-ASCII text outside display names, comments and domains, which the server (no SMTPUTF8) cannot take');
  }
  if (cacheable) remember(name, value, text);
  return text;
}

// The text of fields that passed every check, by name, then value: only successes are kept. Keyed in two
// levels, not by one joined string, so that a lookup builds no string and reuses each string's own hash.
// Listed in docs/fast-paths.md with the test that guards it.
type FieldTexts = Map<string, Map<string, string>>;
let recent: FieldTexts = new Map();
let older: FieldTexts = new Map();
let recentCount = 0;
const CACHED_FIELDS = 1024;
const CACHED_FIELD_LENGTH = 1024;

function remember(name: string, value: string, text: string): void {
  // Two generations instead of evicting one entry at a time (a Map keeps its deleted entries as holes that
  // each search for the oldest key walks again): a full generation becomes the older one.
  if (recentCount >= CACHED_FIELDS) {
    older = recent;
    recent = new Map();
    recentCount = 0;
  }
  let byValue = recent.get(name);
  if (byValue === undefined) {
    byValue = new Map();
    recent.set(name, byValue);
  }
  if (!byValue.has(value)) recentCount++;
  byValue.set(value, text);
}

function formatFresh(name: string, value: string): string {
  checkFieldName(name);
  checkFieldValue(name, value);
  const lower = name.toLowerCase();
  let pieces: { atoms: string[]; separators: string[] };
  if (ADDRESS_FIELDS.has(lower)) {
    pieces = plainAtoms(encodeAddressList(value));
  } else if (MESSAGE_ID_FIELDS.has(lower)) {
    pieces = plainAtoms(value);
  } else if (PARAMETER_FIELDS.has(lower)) {
    // A structured field: never encoded words (RFC 2047 section 5 forbids them in parameters). Plain ASCII goes
    // as written; otherwise each parameter is written again, RFC 2231 where it is not plain or too long.
    const plain = plainAtoms(value);
    if (!NON_ASCII_OR_CONTROL.test(value) && plain.atoms.every((atom) => atom.length <= LONG_WORD)) pieces = plain;
    else {
      const parsed = libmime().parseHeaderValue(value);
      pieces = parameterAtoms(parsed.value, Object.entries(parsed.params));
    }
  } else {
    pieces = unstructuredAtoms(value);
  }
  return recheck(name, fold(name, pieces.atoms, pieces.separators));
}

/** The value of a Content-Type field (unfolded): `type/subtype; name=value; ...`. */
export function contentTypeValue(content: string, params: Iterable<[string, string]>): string {
  return parameterAtoms(content, params).atoms.join(' ');
}

/** The Content-Type field, folded between parameters. */
export function formatContentType(content: string, params: Iterable<[string, string]>): string {
  const pieces = parameterAtoms(content, params);
  return recheck('Content-Type', fold('Content-Type', pieces.atoms, pieces.separators));
}
