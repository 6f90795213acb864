/**
 * RFC 2047 encoded words: `=?charset?B|Q?text?=`, the way non-ASCII text
 * travels in a header. Charsets are named as Tcl names its encodings, as in
 * Tcllib (see ./charsets).
 */
import { MimeError } from '../../lib/errors';
import { parseOptions, type OptionSpecs, type TclWords } from '../../lib/options';
import { decodeCharset, encodeCharset, isSupportedCharset, isTclEncoding, mapencoding, reversemapencoding } from './charsets';
import { qpDecodeBytes, qpEncodeBytes } from './qp';

const WORD_OPTIONS = {
  charset_encoded: { kind: 'boolean' },
  maxlength: { kind: 'integer' },
} as const satisfies OptionSpecs;

/** Options of {@link word_encode}. */
export interface WordEncodeOptions {
  /** The text is bytes already in the charset, one character per byte (default true, as in Tcllib); false for Unicode text. */
  charset_encoded?: boolean;
  /** The longest encoded word, in characters (default 66). */
  maxlength?: number;
}

// `=?` charset `?` method `?` text `?=`; each part is bounded by `?`, so the scan is linear.
const ENCODED_WORD = /=\?([^?]+)\?([^?])\?([^?]*)\?=/;

/** Tcllib's `-charset_encoded 1`: the text is already bytes in the charset, one character per byte. */
function bytesFromByteString(text: string, charset: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new MimeError(
        `word_encode: with -charset_encoded 1 the text must be bytes in ${charset} (characters up to U+00FF), ` +
          `but it has U+${text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} at offset ${i}; ` +
          `pass -charset_encoded 0 (charset_encoded: false) for Unicode text`,
        'EENCODING',
      );
    }
  }
  return Buffer.from(text, 'latin1');
}

/** Turns bytes in `mime` into text, refusing bytes that are not valid in that charset. */
function strictDecode(bytes: Buffer, mime: string, tcl: string): string {
  const text = decodeCharset(bytes, mime);
  let again: Buffer | null;
  try {
    again = encodeCharset(text, mime);
  } catch {
    again = null; // U+FFFD from an invalid sequence has no place in the charset either
  }
  if (!again || !again.equals(bytes)) {
    throw new MimeError(`word_encode: the text is not valid ${tcl} bytes; pass -charset_encoded 0 (charset_encoded: false) for Unicode text`, 'EENCODING');
  }
  return text;
}

function tooShort(maxlength: number): MimeError {
  return new MimeError(`maxlength ${maxlength} too short for chosen charset and encoding`);
}

/**
 * Encodes text as RFC 2047 encoded words in a charset named as Tcl names it
 * (`iso8859-1`, `utf-8`, `cp1252`, ...), each word at most `maxlength` (66)
 * characters long. A multibyte character is never split between words. Words
 * are joined by one space, which is valid anywhere in a header (Tcllib joins
 * them with LF and a space).
 *
 * By default (`charset_encoded` true, as in Tcllib) `text` holds bytes already
 * in the charset, one character per byte; with `charset_encoded` false it is
 * Unicode text. A Buffer is always taken as bytes in the charset.
 *
 * Tcl: `mime::word_encode utf-8 quoted-printable "\u306f" -charset_encoded 0`
 * TypeScript: `mime.word_encode('utf-8', 'quoted-printable', 'は', { charset_encoded: false })`
 * (or `..., '-charset_encoded', 0)`) → `'=?UTF-8?Q?=E3=81=AF?='`
 */
export function word_encode(charset: string, method: string, text: string | Uint8Array, options?: WordEncodeOptions): string;
export function word_encode(charset: string, method: string, text: string | Uint8Array, ...flat: TclWords): string;
export function word_encode(charset: string, method: string, text: string | Uint8Array, ...options: unknown[]): string {
  if (!isTclEncoding(charset)) throw new MimeError(`unknown charset '${charset}'`, 'EENCODING');
  const mime = mapencoding(charset);
  if (mime === '') throw new MimeError(`invalid charset '${charset}'`, 'EENCODING');
  if (method !== 'base64' && method !== 'quoted-printable') {
    throw new MimeError(`unknown method '${method}', must be base64 or quoted-printable`);
  }
  const opts = parseOptions('mime.word_encode', WORD_OPTIONS, options);
  const charsetEncoded = opts.charset_encoded ?? true;
  const maxlength = opts.maxlength ?? 66;

  let unicode: string;
  if (typeof text !== 'string') unicode = strictDecode(Buffer.from(text), mime, charset);
  else if (charsetEncoded) unicode = strictDecode(bytesFromByteString(text, charset), mime, charset);
  else unicode = text;
  if (unicode === '') return '';

  const room = maxlength - mime.length - 7; // 7: the `=?`, `?Q?` and `?=` around the text
  const words: string[] = [];
  if (method === 'base64') {
    if (room < 4) throw tooShort(maxlength);
    const maxBytes = Math.floor(room / 4) * 3;
    let chunk: Buffer[] = [];
    let size = 0;
    for (const char of unicode) {
      const bytes = encodeCharset(char, mime);
      if (bytes.length > maxBytes) throw tooShort(maxlength);
      if (size + bytes.length > maxBytes) {
        words.push(`=?${mime}?B?${Buffer.concat(chunk).toString('base64')}?=`);
        chunk = [];
        size = 0;
      }
      chunk.push(bytes);
      size += bytes.length;
    }
    words.push(`=?${mime}?B?${Buffer.concat(chunk).toString('base64')}?=`);
  } else {
    if (room < 1) throw tooShort(maxlength);
    let word = '';
    for (const char of unicode) {
      const encoded = qpEncodeBytes(encodeCharset(char, mime), true);
      if (encoded.length > room) throw tooShort(maxlength);
      if (word.length + encoded.length > room) {
        words.push(`=?${mime}?Q?${word}?=`);
        word = '';
      }
      word += encoded;
    }
    words.push(`=?${mime}?Q?${word}?=`);
  }
  return words.join(' ');
}

/** Splits `charset*language` (RFC 2231 section 5) and drops the language. */
function charsetOf(label: string): string {
  const star = label.indexOf('*');
  return star < 0 ? label : label.slice(0, star);
}

/** The octets of an encoded word's text, or null for a method other than B or Q. */
function wordBytes(method: string, text: string): Buffer | null {
  if (method === 'B' || method === 'b') return Buffer.from(text, 'base64');
  if (method === 'Q' || method === 'q') return qpDecodeBytes(text, true);
  return null;
}

/**
 * Decodes the first encoded word in `encoded` and returns its Tcl encoding
 * name, its method, and its octets as a byte string (one character per octet,
 * as in Tcllib; `Buffer.from(text, 'latin1')` gives the Buffer). An RFC 2231
 * language suffix (`=?utf-8*en?Q?...?=`) is accepted and ignored.
 *
 * Tcl: `mime::word_decode =?ISO-8859-1?Q?caf=E9?=` → `iso8859-1 quoted-printable caf\xe9`
 * TypeScript: `mime.word_decode('=?ISO-8859-1?Q?caf=E9?=')` → `['iso8859-1', 'quoted-printable', 'caf\xe9']`
 */
export function word_decode(encoded: string): [charset: string, method: string, text: string] {
  const match = ENCODED_WORD.exec(encoded);
  if (!match) throw new MimeError(`malformed word-encoded expression '${encoded}'`);
  const [, label, method, text] = match;
  const tcl = reversemapencoding(charsetOf(label));
  if (tcl === '') throw new MimeError(`unknown charset '${label}'`, 'EENCODING');
  const bytes = wordBytes(method, text);
  if (!bytes) throw new MimeError(`unknown method '${method}', must be B or Q`);
  const name = method === 'B' || method === 'b' ? 'base64' : 'quoted-printable';
  return [tcl, name, bytes.toString('latin1')];
}

/**
 * Decodes every encoded word of a header value to Unicode text. White space
 * between two encoded words is dropped (RFC 2047 section 6.2); adjacent words
 * in the same charset are joined before decoding, so a character split across
 * two words comes out whole. A word in a charset that cannot be decoded is
 * left as it is, rather than failing the whole value.
 *
 * Tcl: `mime::field_decode "=?utf-8?Q?H=C3=BCrz?="` → `Hürz`
 * TypeScript: `mime.field_decode('=?utf-8?Q?H=C3=BCrz?=')` → `'Hürz'`
 */
export function field_decode(field: string): string {
  const words = new RegExp(ENCODED_WORD.source, 'g');
  const out: string[] = [];
  let run: { charset: string; bytes: Buffer[] } | null = null;
  let previous: 'text' | 'decoded' | 'kept' = 'text';
  let cursor = 0;
  const flush = (): void => {
    if (run) out.push(decodeCharset(Buffer.concat(run.bytes), run.charset));
    run = null;
  };

  for (let match = words.exec(field); match; match = words.exec(field)) {
    const between = field.slice(cursor, match.index);
    cursor = match.index + match[0].length;
    const charset = charsetOf(match[1]);
    const bytes = isSupportedCharset(charset) ? wordBytes(match[2], match[3]) : null;
    if (!bytes) {
      // Not decodable: kept as written, and so is the white space beside it.
      flush();
      out.push(between, match[0]);
      previous = 'kept';
      continue;
    }
    const adjacent = previous === 'decoded' && /^[ \t\r\n]*$/.test(between);
    if (adjacent && run !== null && run.charset.toLowerCase() === charset.toLowerCase()) {
      run.bytes.push(bytes);
    } else {
      flush();
      if (!adjacent) out.push(between);
      run = { charset, bytes: [bytes] };
    }
    previous = 'decoded';
  }
  flush();
  out.push(field.slice(cursor));
  return out.join('');
}
