/**
 * Splits a header block (RFC 5322 section 2.2) into fields. Lines end in LF or
 * CRLF, mixed freely; a line starting with SP or TAB continues the field above
 * it; an empty line ends the block. Each field keeps its exact bytes, and its
 * value is unfolded for reading.
 *
 * A line that cannot be a field (no colon, a colon first, a continuation with
 * nothing to continue) ends the block and starts the body, with a defect: that
 * is how Python's email package and most readers take a message whose blank
 * line is missing, where Tcllib throws `improper line in header`.
 */
import { bytesToText } from '../codec/charsets';
import { COLON, CR, LF, SP, TAB } from '../../lib/bytes';


/** One field as read: views into the block, plus the unfolded value. */
export interface RawField {
  name: string;
  value: string;
  /** The field's bytes from its name to the end of its last line, line break excluded. */
  raw: Buffer;
}

/** The outcome of reading a header block from the start of `buf`. */
export interface HeaderBlock {
  /** False when `buf` ended before the block did: call again with more bytes. */
  complete: boolean;
  fields: RawField[];
  /** Bytes of the block, the empty line that ended it included: the body starts here. */
  length: number;
  /** The first line break seen, or null when there was none. */
  eol: string | null;
  defects: string[];
}

export interface HeaderOptions {
  /** `buf` reaches the end of the part: an unterminated last line is final. */
  atEnd: boolean;
  /** `buf` is as long as a header block may be: cut here if the block goes on. */
  atLimit: boolean;
  /** Accept a leading mbox `From ` line (top-level message only). */
  allowMbox: boolean;
  /** How many more fields may be created in this parse (shared across parts). */
  fieldBudget: { remaining: number };
}

const isBlank = (byte: number): boolean => byte === SP || byte === TAB;

/** Shows at most 200 characters of a line in a defect, so that a defect list stays small. */
export function excerpt(bytes: Buffer): string {
  const text = decodeText(bytes.subarray(0, 200));
  return bytes.length > 200 ? `${text}...` : text;
}

/** Header text as a string: UTF-8 when it is valid UTF-8 (RFC 6532), else one character per byte. */
export const decodeText = bytesToText;

/** The value bytes with every line break of the folding removed (RFC 5322 section 2.2.3). */
function unfold(bytes: Buffer): Buffer {
  let nl = bytes.indexOf(LF);
  if (nl < 0) return bytes;
  const pieces: Buffer[] = [];
  let from = 0;
  while (nl >= 0) {
    const cut = nl > from && bytes[nl - 1] === CR ? nl - 1 : nl;
    pieces.push(bytes.subarray(from, cut));
    from = nl + 1;
    nl = bytes.indexOf(LF, from);
  }
  pieces.push(bytes.subarray(from));
  return Buffer.concat(pieces);
}

function trimBlanks(bytes: Buffer): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && isBlank(bytes[start])) start++;
  while (end > start && isBlank(bytes[end - 1])) end--;
  return bytes.subarray(start, end);
}

// RFC 5322 ftext: printable US-ASCII except the colon.
function isFieldName(bytes: Buffer): boolean {
  if (bytes.length === 0) return false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte < 33 || byte > 126 || byte === COLON) return false;
  }
  return true;
}

// "From " opens an mbox envelope line, unless it is a From field with blanks before its colon.
function isMboxLine(line: Buffer): boolean {
  if (line.length < 5 || line.toString('latin1', 0, 5) !== 'From ') return false;
  let at = 5;
  while (at < line.length && isBlank(line[at])) at++;
  return at < line.length && line[at] !== COLON;
}

function makeField(buf: Buffer, start: number, colon: number, end: number, defects: string[]): RawField {
  const nameBytes = trimBlanks(buf.subarray(start, colon));
  const name = decodeText(nameBytes);
  if (!isFieldName(nameBytes)) defects.push(`malformed header field name: ${excerpt(nameBytes)}`);
  let value = decodeText(trimBlanks(unfold(buf.subarray(colon + 1, end))));
  // A value never holds a line break (part.ts); a bare CR reads as the space it stands for.
  if (value.includes('\r')) {
    defects.push(`bare CR in header field ${name}`);
    value = value.replace(/\r/g, ' ');
  }
  return { name, value, raw: buf.subarray(start, end) };
}

/** Reads the header block at the start of `buf`. Linear in the bytes read. */
export function readHeaderBlock(buf: Buffer, options: HeaderOptions): HeaderBlock {
  const fields: RawField[] = [];
  const defects: string[] = [];
  let eol: string | null = null;
  // The field being read: where it starts, its colon, and the end of its last line so far.
  let fieldStart = -1;
  let fieldColon = -1;
  let fieldEnd = -1;
  const finish = (): void => {
    if (fieldStart >= 0) fields.push(makeField(buf, fieldStart, fieldColon, fieldEnd, defects));
    fieldStart = -1;
  };
  const done = (length: number): HeaderBlock => {
    finish();
    options.fieldBudget.remaining -= fields.length;
    return { complete: true, fields, length, eol, defects };
  };
  const incomplete = (): HeaderBlock => ({ complete: false, fields: [], length: 0, eol: null, defects: [] });

  let pos = 0;
  for (;;) {
    if (pos >= buf.length) {
      if (options.atEnd) return done(pos);
      if (!options.atLimit) return incomplete();
      defects.push(`header block longer than ${buf.length} bytes: the rest is taken as the body`);
      return done(pos);
    }
    const nl = buf.indexOf(LF, pos);
    let lineEnd: number;
    let next: number;
    if (nl < 0) {
      if (!options.atEnd) {
        if (!options.atLimit) return incomplete();
        defects.push(`header block longer than ${buf.length} bytes: the rest is taken as the body`);
        return done(pos);
      }
      lineEnd = buf.length;
      next = buf.length;
    } else {
      next = nl + 1;
      lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
      if (eol === null) eol = lineEnd < nl ? '\r\n' : '\n';
    }
    // A line holding only a CR at the very end counts as empty, as it would with its LF.
    if (lineEnd === pos || (lineEnd === pos + 1 && nl < 0 && buf[pos] === CR)) return done(next);

    if (isBlank(buf[pos])) {
      if (fieldStart >= 0) {
        fieldEnd = lineEnd;
        pos = next;
        continue;
      }
      defects.push(`improper line in header: ${excerpt(buf.subarray(pos, lineEnd))}`);
      return done(pos);
    }
    if (pos === 0 && options.allowMbox && isMboxLine(buf.subarray(pos, lineEnd))) {
      defects.push(`mbox envelope line kept only in the raw header: ${excerpt(buf.subarray(pos, lineEnd))}`);
      pos = next;
      continue;
    }
    const colon = buf.subarray(pos, lineEnd).indexOf(COLON);
    if (colon <= 0) {
      defects.push(`improper line in header: ${excerpt(buf.subarray(pos, lineEnd))}`);
      return done(pos);
    }
    finish();
    if (fields.length >= options.fieldBudget.remaining) {
      defects.push('too many header fields in this message: the rest is taken as the body');
      return done(pos);
    }
    fieldStart = pos;
    fieldColon = pos + colon;
    fieldEnd = lineEnd;
    pos = next;
  }
}
