/**
 * Quoted-printable (RFC 2045 section 6.7), byte-exact in both directions, and
 * its encoded-word variant, the "Q" encoding of RFC 2047 section 4.2.
 *
 * The encoder keeps Tcllib's choices where they are sound: besides what RFC 2045
 * requires it encodes the characters that EBCDIC gateways mangle
 * (`! " # $ @ [ \ ] ^ \` { | } ~`), breaks lines after 73 characters, and
 * protects `From ` and lone-dot lines. So for ASCII text without CR it gives
 * Tcllib's bytes, apart from the fixes listed in docs/differences-from-tcllib.md.
 */
import { parseOptions } from '../../lib/options';
import { bytesToText, utf8Bytes } from './charsets';
import { CR, EQUALS, LF, SP, TAB, UNDERSCORE } from '../../lib/bytes';

export { bytesToText };

const HEX = '0123456789ABCDEF';
const MAX_LINE = 73; // Tcllib's width: 73 characters, plus "=" on a soft-broken line

/** Bytes written as themselves in a body: printable ASCII but for the EBCDIC-unsafe ones and `=`. */
const BODY_LITERAL = new Uint8Array(256);
for (let b = 0x25; b <= 0x7a; b++) BODY_LITERAL[b] = 1;
for (const b of '=@[\\]^`') BODY_LITERAL[b.charCodeAt(0)] = 0;
BODY_LITERAL[SP] = 1;
BODY_LITERAL[TAB] = 1;

/**
 * Bytes written as themselves in an encoded word. RFC 2047 section 5 (3) allows
 * only these (and `!`, which Tcllib encodes anyway) in a word that may stand in a
 * phrase, so the word is valid wherever a header puts it.
 */
const WORD_LITERAL = new Uint8Array(256);
for (const range of ['AZ', 'az', '09']) {
  for (let b = range.charCodeAt(0); b <= range.charCodeAt(1); b++) WORD_LITERAL[b] = 1;
}
for (const b of '*+-/') WORD_LITERAL[b.charCodeAt(0)] = 1;

function escape(byte: number): string {
  return '=' + HEX[byte >> 4] + HEX[byte & 15];
}

/** A boolean argument as Tcl callers write it: `true`, `1`, `'yes'`, `'off'`, ... */
export type TclBoolean = boolean | number | string;

/** Reads a Tcl-style boolean argument through the one option parser, so its errors read like every other. */
function flag(command: string, name: string, value: TclBoolean | undefined): boolean {
  if (value === undefined) return false;
  return parseOptions(command, { [name]: { kind: 'boolean' } }, [`-${name}`, value])[name] as boolean;
}

/** A JavaScript string is text and goes out as its UTF-8 bytes; a Buffer is taken byte for byte. */
function toBytes(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? utf8Bytes(input) : input;
}

/** Encodes one line (no line break in it) as a list of units, each a character or an `=XX` escape. */
function lineUnits(bytes: Uint8Array, start: number, end: number): string[] {
  const units: string[] = [];
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    units.push(BODY_LITERAL[b] ? String.fromCharCode(b) : escape(b));
  }
  const last = units.length - 1;
  // Trailing white space is removed by transports and decoders (RFC 2045 rule 3).
  if (last >= 0 && (units[last] === ' ' || units[last] === '\t')) units[last] = escape(bytes[end - 1]);
  return units;
}

/**
 * `From ` opening a line is rewritten to `>From ` by mbox, and a lone `.` ends
 * the message on a transport that does not dot-stuff: escape their first
 * character. Returns how many characters that added.
 */
function protectLineStart(units: string[], at: number): number {
  if (units[at] === '.' && at === units.length - 1) {
    units[at] = '=2E';
    return 2;
  }
  if (units[at] === 'F' && units.slice(at, at + 5).join('') === 'From ') {
    units[at] = '=46';
    return 2;
  }
  return 0;
}

/** Joins units into lines of at most {@link MAX_LINE} characters with `=` soft breaks, never splitting an escape. */
function breakLine(units: string[], out: string[], noSoftbreak: boolean): void {
  protectLineStart(units, 0);
  if (noSoftbreak) {
    out.push(units.join(''));
    return;
  }
  let total = 0;
  for (const unit of units) total += unit.length;
  let i = 0;
  while (total > MAX_LINE) {
    let length = 0;
    const begin = i;
    while (i < units.length && length + units[i].length <= MAX_LINE) length += units[i++].length;
    out.push(units.slice(begin, i).join('') + '=\n');
    total -= length;
    total += protectLineStart(units, i); // a soft break starts a line too
  }
  out.push(units.slice(i).join(''));
}

/**
 * Quoted-printable encoding of bytes (the work behind {@link qp_encode}).
 * Hard line breaks are kept as they come (LF, or CR LF); soft breaks are `=` LF.
 */
export function qpEncodeBytes(bytes: Uint8Array, encodedWord = false, noSoftbreak = false): string {
  if (encodedWord) {
    let word = '';
    for (const b of bytes) word += b === SP ? '_' : WORD_LITERAL[b] ? String.fromCharCode(b) : escape(b);
    return word;
  }
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== LF) continue;
    const crlf = i < bytes.length && i > start && bytes[i - 1] === CR;
    breakLine(lineUnits(bytes, start, crlf ? i - 1 : i), out, noSoftbreak);
    if (i < bytes.length) out.push(crlf ? '\r\n' : '\n');
    start = i + 1;
  }
  return out.join('');
}

/**
 * Quoted-printable encoding (RFC 2045). A string is encoded as UTF-8 text; pass
 * a Buffer to encode other bytes (Tcl callers passed a byte string from
 * `encoding convertto`). With `encodedWord` it gives the "Q" text of an RFC 2047
 * encoded word: space as `_`, everything but letters, digits and `*+-/` escaped,
 * and no line breaks at all. `noSoftbreak` keeps each line whole.
 *
 * Tcl: `mime::qp_encode "caf\xe9 = 1"` → `caf=E9 =3D 1`
 * TypeScript: `mime.qp_encode(Buffer.from('café = 1', 'latin1'))` → `'caf=E9 =3D 1'`;
 * `mime.qp_encode('café')` → `'caf=C3=A9'`
 */
export function qp_encode(text: string | Uint8Array, encodedWord: TclBoolean = false, noSoftbreak: TclBoolean = false): string {
  const word = flag('mime.qp_encode', 'encoded_word', encodedWord);
  const whole = flag('mime.qp_encode', 'no_softbreak', noSoftbreak);
  return qpEncodeBytes(toBytes(text), word, whole);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Decodes quoted-printable to bytes (the work behind {@link qp_decode}). White
 * space at line ends is dropped (RFC 2045 rule 3), `=` before LF or CR LF is a
 * soft break, `=XX` is decoded in either case, an invalid escape stays as it is,
 * and hard line breaks are kept as they come. With `encodedWord`, `_` is a space.
 */
export function qpDecodeBytes(input: string | Uint8Array, encodedWord = false): Buffer {
  const bytes = toBytes(input);
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  let start = 0;
  while (start <= bytes.length) {
    let lf = bytes.indexOf(LF, start);
    const hasBreak = lf >= 0;
    if (!hasBreak) lf = bytes.length;
    let end = lf;
    const crlf = hasBreak && end > start && bytes[end - 1] === CR;
    if (crlf) end--;
    while (end > start && (bytes[end - 1] === SP || bytes[end - 1] === TAB)) end--;
    const soft = hasBreak && end > start && bytes[end - 1] === EQUALS;
    if (soft) end--;
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      // An escape never reaches across a line end: `a==` LF `41` is `a=41`, not `aA`.
      if (b === EQUALS && i + 2 < end) {
        const hi = hexValue(bytes[i + 1]);
        const lo = hexValue(bytes[i + 2]);
        if (hi >= 0 && lo >= 0) {
          out[n++] = (hi << 4) | lo;
          i += 2;
          continue;
        }
      }
      out[n++] = encodedWord && b === UNDERSCORE ? SP : b;
    }
    if (!hasBreak) break;
    if (!soft) {
      if (crlf) out[n++] = CR;
      out[n++] = LF;
    }
    start = lf + 1;
  }
  return out.subarray(0, n);
}


/**
 * Decodes quoted-printable (RFC 2045) and returns the text: the decoded bytes
 * read as UTF-8 when they are valid UTF-8, else one character per byte as
 * Tcllib returns them. Use {@link qpDecodeBytes} for the exact bytes.
 *
 * Tcl: `mime::qp_decode "caf=E9"` → `café` (as a byte string)
 * TypeScript: `mime.qp_decode('caf=E9')` → `'café'`; `mime.qp_decode('caf=C3=A9')` → `'café'`
 */
export function qp_decode(text: string | Uint8Array, encodedWord: TclBoolean = false): string {
  return bytesToText(qpDecodeBytes(text, flag('mime.qp_decode', 'encoded_word', encodedWord)));
}
