/**
 * Incremental Content-Transfer-Encoding encoders: they turn a body into the
 * bytes of its encoding one chunk at a time, so that a file body of any size
 * is written in constant memory. They are synchronous (push a chunk, get its
 * bytes back) so that one plan serves the synchronous buildmessage and the
 * streaming copymessage alike. Which encoding a body gets is ./encoding.ts's
 * choice.
 */
import { vouchCrlfLines } from '../../lib/stream';
import { CR, EQUALS, LF, SP, TAB } from '../../lib/bytes';
import { FROM, type Transfer } from './encoding';

/** An encoder fed one chunk at a time: what `push` returns is final, `end` flushes what was held back. */
export interface ChunkEncoder {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

class Identity implements ChunkEncoder {
  push(chunk: Buffer): Buffer {
    return chunk;
  }
  end(): Buffer {
    return EMPTY;
  }
}

/** Text line breaks in canonical form (RFC 2046 section 4.1.1): LF alone becomes CRLF; CR alone is left alone. */
class CanonicalLines implements ChunkEncoder {
  private previous = -1;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const pieces: Buffer[] = [];
    let from = 0;
    let at = chunk.indexOf(LF);
    while (at >= 0) {
      const before = at > 0 ? chunk[at - 1] : this.previous;
      if (before !== CR) {
        pieces.push(chunk.subarray(from, at), CRLF_BYTES);
        from = at + 1;
      }
      at = chunk.indexOf(LF, at + 1);
    }
    this.previous = chunk[chunk.length - 1];
    if (from === 0) return chunk;
    pieces.push(chunk.subarray(from));
    return Buffer.concat(pieces);
  }

  end(): Buffer {
    return EMPTY;
  }
}

const CRLF_BYTES = Buffer.from('\r\n', 'latin1');
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
// Content octets on one quoted-printable line; the soft break's `=` makes 76 (RFC 2045 section 6.7, rule 5).
const QP_LINE = 75;
// Octets of look-ahead the encoder needs: `From ` at a line start, or white space before CRLF.
const QP_LOOKAHEAD = 5;

/**
 * Quoted-printable (RFC 2045 section 6.7). Besides what the rules require
 * (escaping `=`, 8-bit octets and controls, white space at a line end, soft
 * breaks at 76), it escapes a `.`, `-` or `From ` that starts a line, so that
 * no encoded line can be read as an SMTP end of data, a MIME delimiter or an
 * mbox separator. In text mode CRLF and LF are line breaks (written CRLF) and
 * a CR alone is data; in binary mode every CR and LF is data.
 */
export class QuotedPrintableEncoder implements ChunkEncoder {
  private held: Buffer = Buffer.alloc(0);
  private column = 0;

  constructor(private readonly text: boolean) {}

  push(chunk: Buffer): Buffer {
    const input = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const { output, used } = this.encode(input, false);
    this.held = Buffer.from(input.subarray(used));
    return output;
  }

  end(): Buffer {
    const { output } = this.encode(this.held, true);
    this.held = Buffer.alloc(0);
    return output;
  }

  private encode(input: Buffer, final: boolean): { output: Buffer; used: number } {
    const length = input.length;
    const out = Buffer.allocUnsafe(length * 4 + 8);
    let n = 0;
    let i = 0;
    const limit = final ? length : length - QP_LOOKAHEAD;
    while (i < limit) {
      const byte = input[i];
      if (this.text && (byte === LF || (byte === CR && input[i + 1] === LF))) {
        out[n++] = CR;
        out[n++] = LF;
        this.column = 0;
        i += byte === CR ? 2 : 1;
        continue;
      }
      let literal = this.literal(input, i, this.column === 0);
      if (this.column + (literal ? 1 : 3) > QP_LINE) {
        out[n++] = EQUALS;
        out[n++] = CR;
        out[n++] = LF;
        this.column = 0;
        literal = this.literal(input, i, true);
      }
      if (literal) {
        out[n++] = byte;
        this.column += 1;
      } else {
        out[n++] = EQUALS;
        out[n++] = HEX[byte >> 4];
        out[n++] = HEX[byte & 15];
        this.column += 3;
      }
      i++;
    }
    return { output: out.subarray(0, n), used: Math.max(i, 0) };
  }

  private literal(input: Buffer, i: number, lineStart: boolean): boolean {
    const byte = input[i];
    if (byte === SP || byte === TAB) {
      if (i + 1 >= input.length) return false; // white space at the very end
      const next = input[i + 1];
      if (this.text && (next === LF || (next === CR && input[i + 2] === LF))) return false;
      return true;
    }
    if (byte < 33 || byte > 126 || byte === EQUALS) return false;
    if (lineStart) {
      if (byte === 0x2e || byte === 0x2d) return false;
      if (byte === FROM[0] && input.length - i >= FROM.length && input.compare(FROM, 0, FROM.length, i, i + FROM.length) === 0) return false;
    }
    return true;
  }
}

// Characters on one base64 line (RFC 2045 section 6.8).
const B64_LINE = 76;
// Input octets held back between chunks so that each chunk encodes whole 3-octet groups.
const B64_GROUP = 3;

/**
 * Base64 (RFC 2045 section 6.8) in lines of 76 characters joined by CRLF, no
 * line break after the last. Each chunk is encoded in whole 3-octet groups
 * (the 0-2 octets left over wait for the next one), first into the tail of
 * one output Buffer, then its lines are moved into place with a CRLF after
 * each: no strings, one allocation per chunk.
 */
export class Base64Encoder implements ChunkEncoder {
  private readonly held = Buffer.alloc(2);
  private heldLength = 0;
  // Characters on the last line written so far (76: full, its CRLF not yet written).
  private column = 0;

  push(chunk: Buffer): Buffer {
    const total = this.heldLength + chunk.length;
    const whole = total - (total % B64_GROUP);
    if (whole === 0) {
      chunk.copy(this.held, this.heldLength);
      this.heldLength = total;
      return EMPTY;
    }
    let input = chunk;
    let from = 0;
    if (this.heldLength > 0) {
      // Complete the held group with the first octets of the chunk.
      const head = Buffer.allocUnsafe(B64_GROUP);
      this.held.copy(head, 0, 0, this.heldLength);
      from = B64_GROUP - this.heldLength;
      chunk.copy(head, this.heldLength, 0, from);
      input = head;
    }
    const characters = (whole / B64_GROUP) * 4;
    const out = Buffer.allocUnsafe(this.outputLength(characters));
    // Encode at the end of the output so that moving lines forward never overwrites unread characters.
    const at = out.length - characters;
    let n = at;
    if (input !== chunk) n += out.write(input.toString('base64'), n, 'latin1');
    const restEnd = from + (whole - (input !== chunk ? B64_GROUP : 0));
    out.write(chunk.toString('base64', from, restEnd), n, 'latin1');
    const left = chunk.length - restEnd;
    chunk.copy(this.held, 0, restEnd);
    this.heldLength = left;
    this.place(out, at, characters);
    // Base64 characters and CRLF pairs, and the Buffer is new: the DATA codec need not scan it.
    return vouchCrlfLines(out);
  }

  end(): Buffer {
    if (this.heldLength === 0) return EMPTY;
    const text = this.held.toString('base64', 0, this.heldLength);
    this.heldLength = 0;
    const out = Buffer.allocUnsafe(this.outputLength(text.length));
    const at = out.length - text.length;
    out.write(text, at, 'latin1');
    this.place(out, at, text.length);
    return vouchCrlfLines(out);
  }

  /** Octets `characters` more base64 characters take on the wire, line breaks included. */
  private outputLength(characters: number): number {
    return characters + 2 * (Math.ceil((this.column + characters) / B64_LINE) - 1);
  }

  /** Moves `characters` characters found at `at` to the start of `out`, with CRLF between lines. */
  private place(out: Buffer, at: number, characters: number): void {
    let n = 0;
    let read = at;
    const stop = at + characters;
    while (read < stop) {
      if (this.column === B64_LINE) {
        out[n++] = CR;
        out[n++] = LF;
        this.column = 0;
      }
      const take = Math.min(B64_LINE - this.column, stop - read);
      if (n !== read) out.copyWithin(n, read, read + take);
      n += take;
      read += take;
      this.column += take;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** A fresh encoder for a transfer. */
export function encoderFor(transfer: Transfer): ChunkEncoder {
  switch (transfer) {
    case 'identity':
      return new Identity();
    case 'lines':
      return new CanonicalLines();
    case 'qp-text':
      return new QuotedPrintableEncoder(true);
    case 'qp-binary':
      return new QuotedPrintableEncoder(false);
    case 'base64':
      return new Base64Encoder();
    case 'base64-text':
      return new Chain(new CanonicalLines(), new Base64Encoder());
  }
}

/** One encoder feeding another. */
class Chain implements ChunkEncoder {
  constructor(
    private readonly first: ChunkEncoder,
    private readonly second: ChunkEncoder,
  ) {}

  push(chunk: Buffer): Buffer {
    return this.second.push(this.first.push(chunk));
  }

  end(): Buffer {
    const rest = this.second.push(this.first.end());
    const tail = this.second.end();
    return tail.length ? Buffer.concat([rest, tail]) : rest;
  }
}

/** The length of `n` octets in base64 lines of 76 joined by CRLF (Base64Encoder's output). */
export function base64Length(n: number): number {
  if (n === 0) return 0;
  const characters = 4 * Math.ceil(n / 3);
  return characters + 2 * (Math.ceil(characters / 76) - 1);
}
