/**
 * Content-Transfer-Encoding: which one a body needs, judged on its real bytes
 * (RFC 2045 section 2.7-2.9 and 6) by a scanner fed one chunk at a time. The
 * encoders that then write those bytes are in ./encoders.ts.
 */
import { isAscii } from 'node:buffer';
import { CR, DEL, EQUALS, LF, SP, TAB } from '../../lib/bytes';


/** The transfer encodings of RFC 2045, as `-encoding` accepts them. */
export const ENCODINGS = ['7bit', '8bit', 'binary', 'quoted-printable', 'base64'] as const;

/** Tcllib's line length for a body sent without encoding; longer lines go out as quoted-printable. */
export const PLAIN_LINE = 76;
/** RFC 5322 section 2.1.1: no line may be longer, whatever the encoding. */
export const HARD_LINE = 998;

/**
 * How a body is treated: `text` has lines (text/*, message/* leaves; CRLF and
 * LF both end a line and go out as CRLF), `media` is image/audio/video
 * (always base64 unless told otherwise), `binary` is anything else and is
 * never newline-translated.
 */
export type BodyKind = 'text' | 'media' | 'binary';

export function bodyKind(content: string, charset: string | undefined): BodyKind {
  // UTF-16 and UTF-32 text has zero bytes between its characters: not lines of octets.
  if (charset !== undefined && /^(utf-?(16|32)|ucs-?[24])/i.test(charset)) return 'binary';
  if (content.startsWith('text/') || content.startsWith('message/')) return 'text';
  if (content.startsWith('image/') || content.startsWith('audio/') || content.startsWith('video/')) return 'media';
  return 'binary';
}

/** What a scan of a body found. Lengths are in octets, of the body as it would go out (text: LF counted as CRLF). */
export interface BodyStats {
  total: number;
  eightBit: number;
  nul: boolean;
  /** Controls other than TAB, CR, LF and NUL (DEL included). */
  controls: boolean;
  bareCR: boolean;
  bareLF: boolean;
  longestLine: number;
  trailingSpace: boolean;
  /** A line starting with `.` or `From ` (mangled by some transports, RFC 2049 section 3). */
  dotOrFrom: boolean;
  /** Octets quoted-printable would have to escape. */
  escapes: number;
}

/** `From ` at the start of a line: some transports mangle it (RFC 2049 section 3). */
export const FROM = Buffer.from('From ', 'latin1');

// What one octet of line data counts as in BodyStats: PLAIN octets count for nothing but the line length.
const PLAIN = 0;
const EIGHT_BIT = 1;
const NUL = 2;
const BARE_CR = 3;
const ESCAPED = 4; // '=': quoted-printable escapes it, nothing else notices it
const CONTROL = 5;
const CLASS = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) {
  CLASS[byte] =
    byte >= 0x80 ? EIGHT_BIT
    : byte === 0 ? NUL
    : byte === CR ? BARE_CR
    : byte === EQUALS ? ESCAPED
    : (byte < SP && byte !== TAB) || byte === DEL ? CONTROL
    : PLAIN;
}

/**
 * True when every octet of `chunk` is printable ASCII other than '=', or TAB,
 * LF, or a CR followed by an LF (or ending the chunk): then the scan only has
 * to find the line breaks. Native searches rule out 8-bit octets, '=' and DEL;
 * the octets below 0x20 are looked for four at a time (SWAR), and a word that
 * has one is looked at octet by octet, which in text is a word with a line break.
 */
function onlyLineData(chunk: Buffer): boolean {
  if (!isAscii(chunk) || chunk.indexOf(EQUALS) >= 0 || chunk.indexOf(DEL) >= 0) return false;
  const n = chunk.length;
  const head = Math.min(n, (4 - (chunk.byteOffset & 3)) & 3);
  // A view costs more than it saves on a few octets.
  const words = n < 64 ? 0 : (n - head) >> 2;
  for (let i = 0; i < head; i++) if (!lineOctet(chunk, i)) return false;
  if (words > 0) {
    const view = new Int32Array(chunk.buffer, chunk.byteOffset + head, words);
    for (let k = 0; k < words; k++) {
      const word = view[k];
      // An octet below 0x20 leaves its high bit set after the subtraction, and 7-bit octets keep it under `& ~word`;
      // a borrow may flag a word without one, which only costs a look at its four octets.
      if (((word - 0x20202020) & ~word & 0x80808080) !== 0) {
        const at = head + 4 * k;
        if (!lineOctet(chunk, at) || !lineOctet(chunk, at + 1) || !lineOctet(chunk, at + 2) || !lineOctet(chunk, at + 3)) return false;
      }
    }
  }
  for (let i = head + 4 * words; i < n; i++) if (!lineOctet(chunk, i)) return false;
  return true;
}

/** For onlyLineData, of an octet known to be 7-bit and neither '=' nor DEL. */
function lineOctet(chunk: Buffer, at: number): boolean {
  const byte = chunk[at];
  if (byte >= SP || byte === TAB || byte === LF) return true;
  return byte === CR && (at + 1 === chunk.length || chunk[at + 1] === LF);
}

/**
 * Scans a body chunk by chunk (see BodyStats). The line breaks are found with
 * indexOf; the octets between them are classified with a table, or not at all
 * when onlyLineData vouched for the whole chunk; the first octets of a line are
 * followed one by one for a leading `.` or `From `.
 */
export class BodyScanner {
  private readonly stats: BodyStats = {
    total: 0, eightBit: 0, nul: false, controls: false, bareCR: false, bareLF: false,
    longestLine: 0, trailingSpace: false, dotOrFrom: false, escapes: 0,
  };
  private pendingCR = false;
  private lineLength = 0;
  private last = -1;
  private fromMatched = 0;

  constructor(private readonly text: boolean) {}

  private endLine(): void {
    if (this.lineLength > 0 && (this.last === SP || this.last === TAB)) this.stats.trailingSpace = true;
    if (this.lineLength > this.stats.longestLine) this.stats.longestLine = this.lineLength;
    this.lineLength = 0;
    this.fromMatched = 0;
    this.last = -1;
  }

  private count(kind: number): void {
    const stats = this.stats;
    stats.escapes++;
    if (kind === EIGHT_BIT) stats.eightBit++;
    else if (kind === NUL) stats.nul = true;
    else if (kind === BARE_CR) stats.bareCR = true;
    else if (kind === CONTROL) stats.controls = true;
  }

  /** One octet of line data (never an LF; a CR here is a bare one). */
  private data(byte: number): void {
    if (this.lineLength === 0) {
      if (byte === 0x2e) this.stats.dotOrFrom = true;
      this.fromMatched = byte === FROM[0] ? 1 : 0;
    } else if (this.fromMatched > 0) {
      if (byte === FROM[this.fromMatched]) {
        if (++this.fromMatched === FROM.length) {
          this.stats.dotOrFrom = true;
          this.fromMatched = 0;
        }
      } else this.fromMatched = 0;
    }
    this.lineLength++;
    this.last = byte;
    const kind = CLASS[byte];
    if (kind !== PLAIN) this.count(kind);
  }

  /** Octets `from` to `to` of `chunk`, all line data; `plain`: none of them counts for anything but the length. */
  private segment(chunk: Buffer, from: number, to: number, plain: boolean): void {
    let i = from;
    while (i < to && (this.lineLength === 0 || this.fromMatched > 0)) this.data(chunk[i++]);
    if (i >= to) return;
    if (!plain) {
      for (let k = i; k < to; k++) {
        const kind = CLASS[chunk[k]];
        if (kind !== PLAIN) this.count(kind);
      }
    }
    this.lineLength += to - i;
    this.last = chunk[to - 1];
  }

  update(chunk: Buffer): void {
    const stats = this.stats;
    const n = chunk.length;
    stats.total += n;
    if (n === 0) return;
    let i = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk[0] === LF) {
        this.endLine();
        i = 1;
      } else this.data(CR);
    }
    const plain = onlyLineData(chunk);
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        // A CR that ends the chunk may be the first half of a CRLF.
        const end = chunk[n - 1] === CR ? n - 1 : n;
        this.pendingCR = end < n;
        this.segment(chunk, i, end, plain);
        return;
      }
      if (lf > i && chunk[lf - 1] === CR) this.segment(chunk, i, lf - 1, plain);
      else {
        this.segment(chunk, i, lf, plain);
        stats.bareLF = true;
        if (this.text) stats.total++; // it goes out as CRLF
      }
      this.endLine();
      i = lf + 1;
    }
  }

  /** True once the body can no longer go out unencoded (see chooseTransfer): a caller may stop scanning then. */
  unplain(): boolean {
    const s = this.stats;
    return s.eightBit > 0 || s.nul || s.controls || s.bareCR || s.bareLF || s.trailingSpace || s.dotOrFrom ||
      s.longestLine > PLAIN_LINE || this.lineLength > PLAIN_LINE;
  }

  finish(): BodyStats {
    if (this.pendingCR) {
      this.pendingCR = false;
      this.data(CR);
    }
    this.endLine();
    return { ...this.stats };
  }
}

/** How the bytes of a body are turned into the bytes on the wire. */
export type Transfer =
  | 'identity' // as they are
  | 'lines' // LF not preceded by CR becomes CRLF
  | 'qp-text' // quoted-printable, line breaks kept as hard breaks
  | 'qp-binary' // quoted-printable, every CR and LF escaped
  | 'base64-text' // 'lines', then base64 (text is encoded in its canonical form, RFC 2045 section 6.8)
  | 'base64';

/** The transfer encoding chosen for one body: the field value ('' for none) and the transform. */
export interface TransferChoice {
  cte: string;
  transfer: Transfer;
}

/**
 * True when a scan may stop at the first sign that the body cannot go out
 * unencoded: for a non-text body with no declared encoding that sign settles it (base64).
 */
export function scanMayStop(kind: BodyKind, declared: string): boolean {
  return kind === 'binary' && declared === '';
}

/** True when the choice of encoding depends on the body's bytes (otherwise no scan is needed). */
export function needsScan(kind: BodyKind, declared: string, sevenBit: boolean): boolean {
  if (declared === '') return kind !== 'media';
  if (declared === '7bit' || declared === '8bit') return true;
  return declared === 'binary' && sevenBit;
}

// Text that is a third escapes or more is shorter, and no less readable, in base64.
function mostlyEscapes(stats: BodyStats): boolean {
  return stats.escapes * 3 > stats.total;
}

function base64(kind: BodyKind): TransferChoice {
  return { cte: 'base64', transfer: kind === 'text' ? 'base64-text' : 'base64' };
}

function upgrade(kind: BodyKind, stats: BodyStats | null): TransferChoice {
  if (kind === 'text' && !(stats && mostlyEscapes(stats))) return { cte: 'quoted-printable', transfer: 'qp-text' };
  return base64(kind);
}

/** Lines the transports of RFC 5321 carry as they are: no line too long, every line break a line break. */
function lineSafe(kind: BodyKind, stats: BodyStats): boolean {
  return !stats.nul && stats.longestLine <= HARD_LINE && !stats.bareCR && (kind === 'text' || !stats.bareLF);
}

/**
 * The transfer encoding of a canonical body (RFC 2045 section 6; Tcllib's
 * choice with its bugs fixed, docs/differences-from-tcllib.md). `declared` is
 * the part's `-encoding` ('' when none), `stats` the scan of its bytes (null when needsScan said none was
 * needed), `sevenBit` asks for a 7-bit result.
 *
 * - Text is always encoded in its canonical form (LF alone becomes CRLF).
 * - No encoding declared: image/audio/video go as base64; text that is plain
 *   ASCII in short lines (≤ 76 octets, no trailing white space, no line
 *   starting with `.` or `From `) goes without encoding and without a field;
 *   other text as quoted-printable (base64 when most of it would be escaped);
 *   other types without encoding when they are plain ASCII in CRLF lines,
 *   else base64.
 * - 7bit and 8bit are honoured when the body fits them, and replaced by
 *   quoted-printable (text) or base64 when it does not (8-bit octets in 7bit,
 *   NUL, bare CR, lines over 998 octets).
 * - binary goes as it is; quoted-printable and base64 always as asked.
 * - `sevenBit` replaces 8bit and binary the same way.
 */
export function chooseTransfer(kind: BodyKind, declared: string, stats: BodyStats | null, sevenBit: boolean): TransferChoice {
  const raw: Transfer = kind === 'text' ? 'lines' : 'identity';
  switch (declared) {
    case 'base64':
      return base64(kind);
    case 'quoted-printable':
      return { cte: 'quoted-printable', transfer: kind === 'text' ? 'qp-text' : 'qp-binary' };
    case 'binary':
      if (sevenBit) return upgrade(kind, stats);
      return { cte: 'binary', transfer: 'identity' };
    case '7bit':
    case '8bit': {
      const s = stats as BodyStats;
      if (!lineSafe(kind, s)) return upgrade(kind, s);
      if (s.eightBit > 0 && (declared === '7bit' || sevenBit)) return upgrade(kind, s);
      return { cte: declared, transfer: raw };
    }
    default: {
      if (kind === 'media') return { cte: 'base64', transfer: 'base64' };
      const s = stats as BodyStats;
      const plain =
        s.eightBit === 0 && !s.nul && !s.controls && !s.bareCR && !(kind === 'binary' && s.bareLF) &&
        s.longestLine <= PLAIN_LINE && !s.trailingSpace && !s.dotOrFrom;
      if (plain) return { cte: '', transfer: raw };
      if (kind === 'text' && !mostlyEscapes(s)) return { cte: 'quoted-printable', transfer: 'qp-text' };
      return base64(kind);
    }
  }
}

/**
 * Whether the body of a parsed part, already in its transfer encoding, must be
 * encoded again for a 7-bit result: only when it declares none, 7bit, 8bit or
 * binary and its bytes are not 7-bit line-safe.
 */
export function parsedNeedsRecoding(declared: string, kind: BodyKind, stats: BodyStats): boolean {
  if (!['', '7bit', '8bit', 'binary'].includes(declared)) return false;
  return stats.eightBit > 0 || !lineSafe(kind, stats);
}

/** The re-encoding for a parsed part that parsedNeedsRecoding picked. */
export function recodeChoice(kind: BodyKind, stats: BodyStats): TransferChoice {
  return upgrade(kind, stats);
}
