/**
 * DKIM's "relaxed" canonicalization (RFC 6376 §3.4.2 and §3.4.4), applied to
 * message bytes as the session transmits them: a CRLF, a bare CR and a bare LF
 * each end a line, exactly as the SMTP data codec (lib/stream.ts) reads them,
 * so what is hashed is what the server stores.
 *
 * The body is canonicalized and hashed chunk by chunk; the header block, which
 * must be seen whole before the signature can be written, is bounded.
 */
import { createHash, type Hash } from 'node:crypto';
import { InvalidInputError } from '../../lib/errors';
import { CR, LF, SP, TAB } from '../../lib/bytes';

const CRLF = Buffer.from('\r\n');

/** The largest header block the signer reads before the body (the header is held whole, the body never). */
export const MAX_HEADER_OCTETS = 1024 * 1024;

/**
 * The relaxed body hash, fed in chunks: white space runs become one SP,
 * white space at a line end goes, empty lines at the end go, and a non-empty
 * body ends with one CRLF. The state carries across chunks, so the hash is
 * the same however the body is split.
 */
export class RelaxedBodyHash {
  private readonly hash: Hash = createHash('sha256');
  // The previous byte was a CR that ended a line; an LF right after it belongs to it.
  private afterCR: boolean;
  private pendingSpace = false;
  // Line ends are held back until more content follows: trailing empty lines are dropped.
  private pendingLines = 0;
  private nonEmpty = false;
  /** Octets of canonical body hashed so far. */
  length = 0;

  /** `afterCR`: the header block ended with a bare CR, so a leading LF is part of that line end. */
  constructor(afterCR = false) {
    this.afterCR = afterCR;
  }

  update(chunk: Buffer): void {
    const n = chunk.length;
    // At most one SP carried in from the previous chunk; every other output byte stands for an input byte.
    const out = Buffer.allocUnsafe(n + 1);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const byte = chunk[i];
      if (this.afterCR) {
        this.afterCR = false;
        if (byte === LF) continue;
      }
      if (byte === CR || byte === LF) {
        this.pendingSpace = false;
        this.pendingLines++;
        this.afterCR = byte === CR;
      } else if (byte === SP || byte === TAB) {
        this.pendingSpace = true;
      } else {
        if (this.pendingLines > 0) {
          if (o > 0) this.write(out.subarray(0, o));
          o = 0;
          this.flushLines();
        }
        if (this.pendingSpace) {
          out[o++] = SP;
          this.pendingSpace = false;
        }
        out[o++] = byte;
        this.nonEmpty = true;
      }
    }
    if (o > 0) this.write(out.subarray(0, o));
  }

  /** The SHA-256 of the canonical body. Ends the hash: call once. */
  digest(): Buffer {
    // An empty body canonicalizes to nothing; any other ends with exactly one CRLF.
    if (this.nonEmpty) this.write(CRLF);
    return this.hash.digest();
  }

  private write(bytes: Buffer): void {
    this.hash.update(bytes);
    this.length += bytes.length;
  }

  private flushLines(): void {
    for (; this.pendingLines > 0; this.pendingLines--) this.write(CRLF);
  }
}

/** One header field as read from the message, in octets (latin1 strings: one character per octet). */
export interface RawField {
  /** The field name as written. */
  name: string;
  /** Everything after the colon, continuation lines joined without their line ends. */
  value: string;
}

/** The relaxed form of one header field, `name:value` CRLF (RFC 6376 §3.4.2). */
export function relaxedHeader(field: RawField): string {
  return `${relaxedName(field.name)}:${relaxedValue(field.value)}\r\n`;
}

/** A field name lowercased (ASCII only) with white space before the colon removed. */
export function relaxedName(name: string): string {
  return name.replace(/[ \t]+$/, '').replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/**
 * A field value unfolded, white space runs made one SP, and white space at both
 * ends removed. Only SP and TAB count: `trim` would also take octet 0xA0.
 */
export function relaxedValue(value: string): string {
  return value.replace(/[\r\n]+/g, '').replace(/[ \t]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
}

/**
 * Splits a message into its header block and its body as it streams by: the
 * header block is gathered (bounded by {@link MAX_HEADER_OCTETS}) until the
 * empty line, then every further byte is passed on as body.
 */
export class HeaderSplitter {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private atLineStart = true;
  private afterCR = false;
  /** The parsed fields, once the empty line (or the end) was reached. */
  fields: RawField[] | null = null;
  /** Whether the header block ended with a bare CR (see {@link RelaxedBodyHash}). */
  endedWithCR = false;

  /** Feeds a chunk; returns the part of it that belongs to the body (empty while still in the header). */
  push(chunk: Buffer): Buffer {
    if (this.fields) return chunk;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.afterCR) {
        this.afterCR = false;
        if (byte === LF) continue;
      }
      if (byte === CR || byte === LF) {
        if (this.atLineStart) {
          this.take(chunk.subarray(0, i));
          this.finish();
          this.endedWithCR = byte === CR;
          return chunk.subarray(i + 1);
        }
        this.atLineStart = true;
        this.afterCR = byte === CR;
      } else {
        this.atLineStart = false;
      }
    }
    this.take(chunk);
    return Buffer.alloc(0);
  }

  /** The end of the message: a message without an empty line is all header. */
  end(): RawField[] {
    if (!this.fields) this.finish();
    return this.fields as RawField[];
  }

  private take(bytes: Buffer): void {
    this.size += bytes.length;
    if (this.size > MAX_HEADER_OCTETS) {
      throw new InvalidInputError('message', `the header block is longer than ${MAX_HEADER_OCTETS} octets (no empty line ends it)`);
    }
    if (bytes.length > 0) this.chunks.push(bytes);
  }

  private finish(): void {
    this.fields = parseFields(Buffer.concat(this.chunks).toString('latin1'));
    this.chunks.length = 0;
  }
}

/**
 * Reads header fields, one per line plus its continuation lines. A line that
 * is neither a field nor a continuation would be read differently by each
 * verifier, so signing refuses it rather than guess.
 */
export function parseFields(text: string): RawField[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const fields: RawField[] = [];
  lines.forEach((line, index) => {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields[fields.length - 1];
      if (!last) throw new InvalidInputError('message', 'the header block starts with a continuation line');
      last.value += line;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new InvalidInputError('message', `header line ${index + 1} is not a field (no name and colon): ${JSON.stringify(line.slice(0, 40))}`);
    }
    fields.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
  });
  return fields;
}
