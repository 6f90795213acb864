/**
 * Charset names and charset conversion. Tcl names its encodings its own way
 * (`iso8859-1`, `cp1252`, `shiftjis`); MIME uses the IANA registry
 * (`ISO-8859-1`, `Windows-1252`, `Shift_JIS`). The table below is Tcllib's,
 * so `mapencoding` and `reversemapencoding` answer as Tcllib does; the
 * conversion itself is iconv-lite's (the library libmime is built on), with
 * libmime's decoder for the ISO-2022-JP family that iconv-lite lacks.
 */
import { isAscii } from 'node:buffer';
import { MimeError } from '../../lib/errors';
import { iconv, japanese, libcharset } from './libraries';

/**
 * Tcl encoding name to MIME charset name, as Tcllib 1.21 lists them. An empty
 * string marks a Tcl encoding that has no registered MIME name.
 */
const TCL_TO_MIME: ReadonlyArray<readonly [tcl: string, mime: string]> = [
  ['ascii', 'US-ASCII'], ['big5', 'Big5'],
  ['cp1250', 'Windows-1250'], ['cp1251', 'Windows-1251'], ['cp1252', 'Windows-1252'], ['cp1253', 'Windows-1253'],
  ['cp1254', 'Windows-1254'], ['cp1255', 'Windows-1255'], ['cp1256', 'Windows-1256'], ['cp1257', 'Windows-1257'],
  ['cp1258', 'Windows-1258'],
  ['cp437', 'IBM437'], ['cp737', ''], ['cp775', 'IBM775'], ['cp850', 'IBM850'], ['cp852', 'IBM852'], ['cp855', 'IBM855'],
  ['cp857', 'IBM857'], ['cp860', 'IBM860'], ['cp861', 'IBM861'], ['cp862', 'IBM862'], ['cp863', 'IBM863'],
  ['cp864', 'IBM864'], ['cp865', 'IBM865'], ['cp866', 'IBM866'], ['cp869', 'IBM869'],
  ['cp874', ''], ['cp932', ''], ['cp936', 'GBK'], ['cp949', ''], ['cp950', ''],
  ['dingbats', ''], ['ebcdic', ''],
  ['euc-cn', 'EUC-CN'], ['euc-jp', 'EUC-JP'], ['euc-kr', 'EUC-KR'],
  ['gb12345', 'GB12345'], ['gb1988', 'GB1988'], ['gb2312', 'GB2312'],
  ['iso2022', 'ISO-2022'], ['iso2022-jp', 'ISO-2022-JP'], ['iso2022-kr', 'ISO-2022-KR'],
  ['iso8859-1', 'ISO-8859-1'], ['iso8859-2', 'ISO-8859-2'], ['iso8859-3', 'ISO-8859-3'], ['iso8859-4', 'ISO-8859-4'],
  ['iso8859-5', 'ISO-8859-5'], ['iso8859-6', 'ISO-8859-6'], ['iso8859-7', 'ISO-8859-7'], ['iso8859-8', 'ISO-8859-8'],
  ['iso8859-9', 'ISO-8859-9'], ['iso8859-10', 'ISO-8859-10'], ['iso8859-13', 'ISO-8859-13'],
  ['iso8859-14', 'ISO-8859-14'], ['iso8859-15', 'ISO-8859-15'], ['iso8859-16', 'ISO-8859-16'],
  ['jis0201', 'JIS_X0201'], ['jis0208', 'JIS_C6226-1983'], ['jis0212', 'JIS_X0212-1990'],
  ['koi8-r', 'KOI8-R'], ['koi8-u', 'KOI8-U'], ['ksc5601', 'KS_C_5601-1987'],
  ['macCentEuro', ''], ['macCroatian', ''], ['macCyrillic', ''], ['macDingbats', ''], ['macGreek', ''],
  ['macIceland', ''], ['macJapan', ''], ['macRoman', ''], ['macRomania', ''], ['macThai', ''], ['macTurkish', ''],
  ['macUkraine', ''],
  ['shiftjis', 'Shift_JIS'], ['symbol', ''], ['tis-620', 'TIS-620'], ['unicode', ''], ['utf-8', 'UTF-8'],
];

/** Further MIME names (IANA aliases) that Tcllib maps back to a Tcl encoding, grouped by that encoding. */
const MIME_ALIASES: Readonly<Record<string, readonly string[]>> = {
  ascii: ['ANSI_X3.4-1968', 'iso-ir-6', 'ANSI_X3.4-1986', 'ISO_646.irv:1991', 'ASCII', 'ISO646-US', 'us', 'IBM367', 'cp367'],
  cp437: ['cp437', '437'],
  cp775: ['cp775'],
  cp850: ['cp850', '850'],
  cp852: ['cp852', '852'],
  cp855: ['cp855', '855'],
  cp857: ['cp857', '857'],
  cp860: ['cp860', '860'],
  cp861: ['cp861', '861', 'cp-is'],
  cp862: ['cp862', '862'],
  cp863: ['cp863', '863'],
  cp864: ['cp864'],
  cp865: ['cp865', '865'],
  cp866: ['cp866', '866'],
  cp869: ['cp869', '869', 'cp-gr'],
  cp936: ['CP936', 'MS936', 'Windows-936'],
  'iso8859-1': ['ISO_8859-1:1987', 'iso-ir-100', 'ISO_8859-1', 'latin1', 'l1', 'IBM819', 'CP819'],
  'iso8859-2': ['ISO_8859-2:1987', 'iso-ir-101', 'ISO_8859-2', 'latin2', 'l2'],
  'iso8859-3': ['ISO_8859-3:1988', 'iso-ir-109', 'ISO_8859-3', 'latin3', 'l3'],
  'iso8859-4': ['ISO_8859-4:1988', 'iso-ir-110', 'ISO_8859-4', 'latin4', 'l4'],
  'iso8859-5': ['ISO_8859-5:1988', 'iso-ir-144', 'ISO_8859-5', 'cyrillic'],
  'iso8859-6': ['ISO_8859-6:1987', 'iso-ir-127', 'ISO_8859-6', 'ECMA-114', 'ASMO-708', 'arabic'],
  'iso8859-7': ['ISO_8859-7:1987', 'iso-ir-126', 'ISO_8859-7', 'ELOT_928', 'ECMA-118', 'greek', 'greek8'],
  'iso8859-8': ['ISO_8859-8:1988', 'iso-ir-138', 'ISO_8859-8', 'hebrew'],
  'iso8859-9': ['ISO_8859-9:1989', 'iso-ir-148', 'ISO_8859-9', 'latin5', 'l5'],
  'iso8859-10': ['iso-ir-157', 'l6', 'ISO_8859-10:1992', 'latin6'],
  'iso8859-14': ['iso-ir-199', 'ISO_8859-14:1998', 'ISO_8859-14', 'latin8', 'iso-celtic', 'l8'],
  'iso8859-15': ['ISO_8859-15', 'Latin-9'],
  'iso8859-16': ['iso-ir-226', 'ISO_8859-16:2001', 'ISO_8859-16', 'latin10', 'l10'],
  jis0201: ['X0201'],
  jis0208: ['iso-ir-87', 'x0208', 'JIS_X0208-1983'],
  jis0212: ['x0212', 'iso-ir-159'],
  ksc5601: ['iso-ir-149', 'KS_C_5601-1989', 'KSC5601', 'korean'],
  shiftjis: ['MS_Kanji'],
  'utf-8': ['UTF8'],
};

// Maps, not objects: a name such as `__proto__` or `constructor` must find nothing.
const mimeByTcl = new Map<string, string>(TCL_TO_MIME);
const tclByMime = new Map<string, string>();
for (const [tcl, mime] of TCL_TO_MIME) if (mime !== '') tclByMime.set(mime.toLowerCase(), tcl);
for (const [tcl, names] of Object.entries(MIME_ALIASES)) for (const name of names) tclByMime.set(name.toLowerCase(), tcl);

/**
 * The MIME charset name of a Tcl encoding, or `''` when Tcllib knows none.
 * The Tcl name is matched exactly, as Tcl itself matches encoding names.
 *
 * Tcl: `mime::mapencoding cp1252` → `Windows-1252`
 * TypeScript: `mime.mapencoding('cp1252')` → `'Windows-1252'`
 */
export function mapencoding(tclEncoding: string): string {
  return mimeByTcl.get(tclEncoding) ?? '';
}

/**
 * The Tcl encoding for a MIME charset name or alias (any case), or `''`.
 *
 * Tcl: `mime::reversemapencoding latin1` → `iso8859-1`
 * TypeScript: `mime.reversemapencoding('latin1')` → `'iso8859-1'`
 */
export function reversemapencoding(mimeCharset: string): string {
  return tclByMime.get(mimeCharset.toLowerCase()) ?? '';
}

/** True when `name` is a Tcl encoding of Tcllib's table (exact case), with or without a MIME name. */
export function isTclEncoding(name: string): boolean {
  return mimeByTcl.has(name);
}

/** Every Tcl encoding name of Tcllib's table, with its MIME name (`''` when none). */
export function tclEncodings(): ReadonlyArray<readonly [tcl: string, mime: string]> {
  return TCL_TO_MIME;
}

type Codec =
  | { kind: 'utf-8' }
  | { kind: 'us-ascii' }
  | { kind: 'iconv'; name: string }
  | { kind: 'japanese'; name: string };

// Names that iconv-lite knows but that are no charset a message is written in. UTF-7 is refused
// because it smuggles markup past filters (=?utf-7?Q?+ADw-script+AD4-?=), as libmime refuses it.
let refused: Set<unknown> | undefined;
function isRefused(name: string): boolean {
  refused ??= new Set(['utf7', 'utf7imap', 'base64', 'hex'].map((each) => iconv().getCodec(each)));
  return refused.has(iconv().getCodec(name));
}
const JAPANESE = /^(?:iso-?2022-?jp(?:-\d)?|jis)$/i;

function iconvName(name: string): string | null {
  if (!iconv().encodingExists(name)) return null;
  return isRefused(name) ? null : name;
}

function resolve(mimeCharset: string): Codec | null {
  const name = mimeCharset.trim();
  if (name === '') return null;
  // Tcllib's aliases first (cp-is, l6, greek8, ...), then the name as given, then libmime's cleanup (win-1257).
  const tcl = reversemapencoding(name);
  const canonical = tcl === '' ? name : mapencoding(tcl);
  const lower = canonical.toLowerCase();
  if (lower === 'utf-8' || lower === 'utf8') return { kind: 'utf-8' };
  if (lower === 'us-ascii') return { kind: 'us-ascii' };
  if (JAPANESE.test(canonical)) return { kind: 'japanese', name: 'ISO-2022-JP' };
  const direct = iconvName(canonical);
  if (direct) return { kind: 'iconv', name: direct };
  const cleaned = libcharset().normalizeCharset(canonical);
  if (cleaned.toLowerCase() === 'utf-8') return null; // libmime's default for a name it could not read
  const second = iconvName(cleaned);
  return second ? { kind: 'iconv', name: second } : null;
}

function unknown(mimeCharset: string): MimeError {
  return new MimeError(`unknown charset '${mimeCharset}'`, 'EENCODING');
}

/** True when {@link decodeCharset} and {@link encodeCharset} can convert this MIME charset. */
export function isSupportedCharset(mimeCharset: string): boolean {
  return resolve(mimeCharset) !== null;
}

/**
 * Decodes bytes in a MIME charset to a JavaScript string; throws a MimeError
 * (`EENCODING`) for an unknown charset. Bytes that are invalid in the charset
 * become U+FFFD. `US-ASCII` text is read as UTF-8, since 8-bit text labelled
 * US-ASCII is almost always UTF-8 in practice.
 */
export function decodeCharset(bytes: Buffer, mimeCharset: string): string {
  const codec = resolve(mimeCharset);
  if (!codec) throw unknown(mimeCharset);
  switch (codec.kind) {
    case 'utf-8':
    case 'us-ascii':
      return bytes.toString('utf8');
    case 'japanese':
      return libcharset().decode(bytes, codec.name);
    case 'iconv':
      return iconv().decode(bytes, codec.name, { stripBOM: byteOrderFromMark(codec.name) });
  }
}

/**
 * A leading U+FEFF is text (a zero-width no-break space), and iconv-lite drops
 * it unless told not to. Only unmarked UTF-16 and UTF-32 read their byte order
 * from it, and there it is a signature, not text (RFC 2781 section 3.3).
 */
function byteOrderFromMark(name: string): boolean {
  return /^(?:utf-?16|utf-?32|ucs-?4)$/i.test(name);
}

/** A UTF-16 surrogate without its other half: no charset can carry it. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ignoreBOM keeps a leading U+FEFF: it is the text's, and a decoder that drops it loses a character.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes of unknown charset as text: UTF-8 when they are valid UTF-8, else one character per byte. */
export function bytesToText(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isAscii(buffer)) return buffer.toString('latin1');
  try {
    return STRICT_UTF8.decode(buffer);
  } catch {
    return buffer.toString('latin1');
  }
}

/**
 * The UTF-8 bytes of a string. A lone UTF-16 surrogate has no UTF-8 form, and
 * Node would silently write U+FFFD for it, so it is refused instead.
 */
export function utf8Bytes(text: string): Buffer {
  refuseLoneSurrogate(text);
  return Buffer.from(text, 'utf8');
}

function refuseLoneSurrogate(text: string): void {
  const bad = LONE_SURROGATE.exec(text);
  if (bad) {
    throw new MimeError(`unpaired surrogate U+${bad[0].charCodeAt(0).toString(16).toUpperCase()} at offset ${bad.index} has no UTF-8 form`, 'EENCODING');
  }
}

function unrepresentable(char: string, mimeCharset: string): MimeError {
  const hex = char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return new MimeError(`character U+${hex} cannot be written in ${mimeCharset}`, 'EENCODING');
}

// iconv-lite has no ISO-2022-JP; encoding-japanese (libmime's own choice for it) writes it.
function encodeJapanese(text: string): Buffer {
  return Buffer.from(japanese().convert(japanese().stringToCode(text), { to: 'JIS', from: 'UNICODE', type: 'array' }));
}

/**
 * Encodes a JavaScript string to bytes in a MIME charset. Throws a MimeError
 * (`EENCODING`) for an unknown charset, and for a character the charset cannot
 * represent, rather than writing `?` in its place.
 */
export function encodeCharset(text: string, mimeCharset: string): Buffer {
  const codec = resolve(mimeCharset);
  if (!codec) throw unknown(mimeCharset);
  if (codec.kind === 'utf-8') return utf8Bytes(text);
  if (codec.kind === 'us-ascii') {
    const bad = /[^\x00-\x7f]/u.exec(text);
    if (bad) throw unrepresentable(bad[0], mimeCharset);
    return Buffer.from(text, 'latin1');
  }
  refuseLoneSurrogate(text); // a charset cannot carry one either
  const bytes = codec.kind === 'japanese' ? encodeJapanese(text) : iconv().encode(text, codec.name);
  const back = codec.kind === 'japanese' ? libcharset().decode(bytes, codec.name) : decodeCharset(bytes, mimeCharset);
  if (back !== text) {
    // Find the culprit to name it: the first character that does not survive on its own.
    for (const char of text) {
      const one = codec.kind === 'japanese' ? encodeJapanese(char) : iconv().encode(char, codec.name);
      const again = codec.kind === 'japanese' ? libcharset().decode(one, codec.name) : decodeCharset(one, mimeCharset);
      if (again !== char) throw unrepresentable(char, mimeCharset);
    }
  }
  return bytes;
}
