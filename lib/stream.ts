/**
 * The SMTP body codec (RFC 5321 §2.3.8, §4.5.2): every line ends in CRLF, a
 * line that starts with '.' gets one more, and the data ends with CRLF.CRLF.
 *
 * A bare CR or a bare LF becomes CRLF (CR CR LF is a bare CR, then a CRLF), so
 * no lone CR or LF reaches the wire: that is what SMTP smuggling needs. The state
 * (inside a line? just emitted a CR?) carries across chunks, so the output is the
 * same however the input is split.
 */
import { isAscii } from 'node:buffer';
import { CR, DOT, LF } from './bytes';

const CRLF_BYTES = Buffer.from('\r\n');
const DOT_BYTE = Buffer.from('.');
/** What ends the data after the last line's CRLF. */
export const DATA_TERMINATOR = Buffer.from('.\r\n');

/** See vouchCrlfLines. */
const crlfLines = new WeakSet<Buffer>();

/**
 * Marks `bytes` as lines the DATA codec passes on without scanning, and
 * returns them. The caller vouches that every CR in them is followed by an LF
 * and every LF follows a CR (both in `bytes`), that no octet is '.', and that
 * nothing writes to the Buffer from now on: the mime module's base64 output,
 * whose scan was a tenth of the cost of sending a large attachment. @internal
 */
export function vouchCrlfLines(bytes: Buffer): Buffer {
  crlfLines.add(bytes);
  return bytes;
}

/**
 * The codec itself, synchronous: `encode` each chunk in order, then `end`. The
 * state (at a line start? just turned a CR into CRLF?) carries across chunks.
 */
export class DataCodec {
  private readonly stuffing: boolean;
  private atLineStart = true;
  // A CR was just turned into CRLF; an LF right after it belongs to it.
  private afterCR = false;
  /** Bytes of message content so far (line ends normalized, without stuffing or terminator). */
  contentLength = 0;

  /**
   * `dotStuffing: false` normalizes line ends only: BDAT (RFC 3030) carries the
   * message by length, so no line is stuffed and no terminator is added.
   */
  constructor(options: { dotStuffing?: boolean } = {}) {
    this.stuffing = options.dotStuffing ?? true;
  }

  /**
   * Encodes one chunk of the message. Lines that already end in CRLF and need
   * no stuffing stay in one slice of the input: only a bare CR or LF or a
   * leading dot splits it, so clean text and base64 pass through uncopied.
   */
  encode(bytes: Buffer): Buffer {
    const n = bytes.length;
    if (crlfLines.has(bytes)) return this.passVouched(bytes);
    let i = 0;
    if (this.afterCR && n > 0) {
      this.afterCR = false;
      if (bytes[0] === LF) i = 1;
    }
    const pieces: Buffer[] = [];
    let dots = 0;
    // The start of the input not yet handed on.
    let run = i;
    // Positions of the next CR and LF, recomputed only once passed (linear in the chunk).
    let nextCR = -2;
    let nextLF = -2;
    while (i < n) {
      if (this.atLineStart) {
        this.atLineStart = false;
        if (bytes[i] === DOT && this.stuffing) {
          if (i > run) pieces.push(bytes.subarray(run, i));
          pieces.push(DOT_BYTE);
          dots++;
          run = i;
        }
      }
      if (nextCR !== -1 && nextCR < i) nextCR = bytes.indexOf(CR, i);
      if (nextLF !== -1 && nextLF < i) nextLF = bytes.indexOf(LF, i);
      const end = nextCR === -1 ? nextLF : nextLF === -1 ? nextCR : Math.min(nextCR, nextLF);
      if (end === -1) break;
      this.atLineStart = true;
      if (bytes[end] === CR && end + 1 < n && bytes[end + 1] === LF) {
        i = end + 2;
        continue;
      }
      // A bare CR or LF: the line so far, then CRLF in its place.
      pieces.push(bytes.subarray(run, end), CRLF_BYTES);
      run = i = end + 1;
      // A CR that ends the chunk: an LF starting the next one belongs to it.
      if (bytes[end] === CR && end + 1 === n) this.afterCR = true;
    }
    if (run === 0 && pieces.length === 0) {
      this.contentLength += n;
      return bytes;
    }
    if (run < n) pieces.push(bytes.subarray(run));
    const out = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
    this.contentLength += out.length - dots;
    return out;
  }

  /**
   * What encode would make of vouched lines: the bytes themselves. They cannot
   * start with the LF of a CR that ended the last chunk, nor hold a '.' to stuff.
   */
  private passVouched(bytes: Buffer): Buffer {
    const n = bytes.length;
    if (n > 0) {
      this.afterCR = false;
      this.atLineStart = bytes[n - 1] === LF;
    }
    this.contentLength += n;
    return bytes;
  }

  /** Ends the last line: a CRLF if it is open, else nothing (the end of a BDAT message). */
  endLine(): Buffer {
    if (this.atLineStart) return Buffer.alloc(0);
    this.atLineStart = true;
    this.contentLength += 2;
    return CRLF_BYTES;
  }

  /** Ends the message: a CRLF if its last line is open, then the terminating '.' CRLF. */
  end(): Buffer {
    if (this.atLineStart) return DATA_TERMINATOR;
    this.atLineStart = true;
    this.contentLength += 2;
    return Buffer.concat([CRLF_BYTES, DATA_TERMINATOR]);
  }
}

/**
 * The size RFC 1870 asks for in `SIZE=`: the message's octets once its line ends
 * are CRLF and its last line is ended, without dot-stuffing or the final dot.
 */
export function normalizedLength(message: Buffer): number {
  let length = 0;
  let i = 0;
  const n = message.length;
  let atLineStart = true;
  let nextCR = -2;
  let nextLF = -2;
  while (i < n) {
    if (nextCR !== -1 && nextCR < i) nextCR = message.indexOf(CR, i);
    if (nextLF !== -1 && nextLF < i) nextLF = message.indexOf(LF, i);
    const end = nextCR === -1 ? nextLF : nextLF === -1 ? nextCR : Math.min(nextCR, nextLF);
    if (end === -1) {
      length += n - i;
      atLineStart = false;
      break;
    }
    length += end - i + 2;
    atLineStart = true;
    i = end + 1;
    if (message[end] === CR && message[i] === LF) i++;
  }
  return atLineStart ? length : length + 2;
}

/** The offset of the first byte above 0x7F, or -1 when the message is 7-bit. */
export function firstEightBitOffset(message: Buffer): number {
  if (isAscii(message)) return -1;
  return message.findIndex((byte) => byte > 0x7f);
}
