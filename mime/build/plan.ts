/**
 * What the bytes of a part are, as a sequence of steps: literal bytes, a body
 * to pass through an encoder, and questions about a body's bytes that the
 * encoding choice depends on. The plan is written once, as a generator; the
 * drivers in build.ts run it synchronously (buildmessage), as a stream
 * (copymessage), or only to count or inspect (messageSize, hasEightBit).
 */
import { randomBytes } from 'node:crypto';
import { isAscii } from 'node:buffer';
import { MimeError } from '../../lib/errors';
import { encodeCharset } from '../codec/charsets';
import {
  bodyKind, chooseTransfer, needsScan, parsedNeedsRecoding, recodeChoice, scanMayStop,
  type BodyKind, type BodyStats, type Transfer,
} from '../codec/encoding';
import { formatContentType, formatField, isReservedField } from './headers';
import { hasParts, type HeaderField, type Part } from '../part';

/** Where a body's bytes are. */
export type BodyRef =
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'file'; path: string; offset: number; length: number | undefined };

/** One step of a plan. `scan` expects the body's BodyStats back. */
export type Step =
  | { op: 'bytes'; data: Buffer }
  | { op: 'body'; transfer: Transfer; source: BodyRef }
  | { op: 'scan'; source: BodyRef; text: boolean; early: boolean }
  | { op: 'push'; transfer: Transfer }
  | { op: 'pop' };

export type Plan = Generator<Step, void, BodyStats | undefined>;

/** Options of a build; the smtp layer uses them to send a part without changing it. */
export interface BuildOptions {
  /** Fields added at the top level, after the part's own. */
  extraHeaders?: ReadonlyArray<readonly [string, string]>;
  /** Field names (any case) of the part's own fields to leave out at the top level (extraHeaders are written as given). */
  omitHeaders?: readonly string[];
  /** Encode every 8bit or binary body again as quoted-printable or base64. */
  sevenBit?: boolean;
  /**
   * Every header field 7-bit, for a server without SMTPUTF8: domains in
   * address fields as A-labels, and a parsed field read with 8-bit octets
   * written again from its value. A non-ASCII local part is an error.
   */
  asciiHeaders?: boolean;
}

interface Context {
  sevenBit: boolean;
  asciiHeaders: boolean;
  /** The names of omitHeaders, lowercased. */
  omit: readonly string[];
  /** The extra fields as formatField writes them (CRLF line ends). */
  extra: readonly string[];
}

const NONE: readonly string[] = [];

const CRLF = '\r\n';

/** A fresh multipart boundary: random, and holding `=_`, which quoted-printable and base64 never produce. */
export function newBoundary(): string {
  return `=_tclmail_${randomBytes(15).toString('base64url')}`;
}

/**
 * Checks extra header fields as setheader would, so that the smtp layer's
 * additions are as safe as the caller's, and returns their formatted text.
 * A build that follows a check finds the fields in formatField's cache.
 */
export function checkExtraHeaders(fields: ReadonlyArray<readonly [string, string]>, asciiHeaders = false): readonly string[] {
  if (fields.length === 0) return NONE;
  const texts: string[] = [];
  // Indexed, not destructured: no iterator per pair.
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    texts.push(formatField(name, fields[i][1], asciiHeaders));
    if (isReservedField(name)) {
      throw new MimeError(`key ${name} may not be set`, 'EHEADER');
    }
  }
  return texts;
}

export function contextOf(options: BuildOptions = {}): Context {
  return {
    sevenBit: options.sevenBit === true,
    asciiHeaders: options.asciiHeaders === true,
    omit: options.omitHeaders === undefined ? NONE : options.omitHeaders.map((name) => name.toLowerCase()),
    extra: checkExtraHeaders(options.extraHeaders ?? [], options.asciiHeaders === true),
  };
}

/** The charset a canonical text string is written in, and whether it had to be added to Content-Type. */
function stringCharset(part: Part, text: string): { charset: string; added: boolean } {
  const declared = part.params.get('charset');
  if (declared !== undefined) return { charset: declared, added: false };
  const added = part.content.startsWith('text/') && !isAsciiText(text);
  return { charset: 'utf-8', added };
}

/** True when every character of `text` is ASCII. */
function isAsciiText(text: string): boolean {
  // In UTF-8 a character beyond ASCII takes two octets or more per UTF-16 unit (a regular expression takes six times as long).
  return Buffer.byteLength(text, 'utf8') === text.length;
}

const UTF8 = /^utf-?8$/i;
const ASCII = /^(us-)?ascii$/i;

/** True when a string body is ASCII text in an ASCII charset: its bytes are its characters, and it can be written as it stands. */
export function asciiTextIn(text: string, charset: string): boolean {
  return ASCII.test(charset) && isAsciiText(text);
}

/** The bytes of a string body in its charset. */
function textBytes(text: string, charset: string): Buffer {
  if (UTF8.test(charset)) return Buffer.from(text, 'utf8');
  if (ASCII.test(charset)) {
    const data = Buffer.from(text, 'utf8');
    if (data.length === text.length) return data; // ASCII text (see isAsciiText)
  }
  return encodeCharset(text, charset);
}

/** The body bytes of a canonical leaf (strings in their charset), or where they are. */
export function canonicalSource(part: Part): BodyRef {
  const body = part.body;
  switch (body.kind) {
    case 'string': {
      if (Buffer.isBuffer(body.data)) return { kind: 'buffer', data: body.data };
      return { kind: 'buffer', data: textBytes(body.data, part.params.get('charset') ?? 'utf-8') };
    }
    case 'parsed':
      return { kind: 'buffer', data: body.data };
    case 'file':
      return { kind: 'file', path: body.path, offset: body.offset ?? 0, length: body.length };
    case 'parts':
      throw new MimeError('MIME part isn\'t a leaf');
  }
}

/** The body bytes of a canonical leaf held in memory, or null for a file body. */
export function memoryBytes(part: Part): Buffer | null {
  const source = canonicalSource(part);
  return source.kind === 'buffer' ? source.data : null;
}

/** The Content-Type parameters as written: a charset added for non-ASCII text strings that declared none. */
export function effectiveParams(part: Part): Map<string, string> {
  if (part.body.kind === 'string' && typeof part.body.data === 'string' && stringCharset(part, part.body.data).added) {
    return new Map([...part.params, ['charset', 'utf-8']]);
  }
  return part.params;
}

/** True when the body is still in its transfer encoding (a parsed body), false for a canonical one. */
export function isEncodedBody(part: Part): boolean {
  return part.body.kind === 'parsed' || (part.body.kind === 'file' && part.body.encoded === true);
}

function kindOf(part: Part): BodyKind {
  return bodyKind(part.content, part.params.get('charset'));
}

/** How a leaf's body goes out: the Content-Transfer-Encoding to write (null: keep the parsed one) and the transfer. */
export interface LeafPlan {
  cte: string | null;
  transfer: Transfer;
  source: BodyRef;
}

/** Decides a leaf's encoding, asking for a scan of its bytes when the decision needs one. */
export function* leafPlan(part: Part, sevenBit: boolean): Generator<Step, LeafPlan, BodyStats | undefined> {
  const kind = kindOf(part);
  if (isEncodedBody(part)) {
    const source = canonicalSource(part);
    if (sevenBit && ['', '7bit', '8bit', 'binary'].includes(part.encoding)) {
      const stats = (yield { op: 'scan', source, text: kind === 'text', early: false }) as BodyStats;
      if (parsedNeedsRecoding(part.encoding, kind, stats)) {
        const choice = recodeChoice(kind, stats);
        return { cte: choice.cte, transfer: choice.transfer, source };
      }
    }
    return { cte: null, transfer: 'identity', source };
  }
  const source = canonicalSource(part);
  const early = scanMayStop(kind, part.encoding);
  const stats = needsScan(kind, part.encoding, sevenBit)
    ? ((yield { op: 'scan', source, text: kind === 'text', early }) as BodyStats)
    : null;
  const choice = chooseTransfer(kind, part.encoding, stats, sevenBit);
  // Text in memory that the whole scan found without an LF alone is in canonical form already: nothing to look for again.
  const canonical = choice.transfer === 'lines' && stats !== null && !early && !stats.bareLF && source.kind === 'buffer';
  return { cte: choice.cte, transfer: canonical ? 'identity' : choice.transfer, source };
}

function bytes(text: string): Step {
  return { op: 'bytes', data: Buffer.from(text, 'utf8') };
}

function withEol(text: string, eol: string): string {
  return eol === CRLF ? text : text.replace(/\r\n/g, eol);
}

/** A field as it goes out: the bytes of a parsed field as read, or its formatted text. */
function fieldText(field: HeaderField, eol: string, asciiHeaders = false): Buffer | string {
  // A field read with 8-bit octets is written again from its value when the header must be 7-bit.
  if (field.raw !== undefined && !(asciiHeaders && !isAscii(field.raw))) return field.raw;
  return withEol(formatField(field.name, field.value, asciiHeaders), eol);
}

// Content-Type fields as written, by type and parameters: the parts of a bulk run share a few. Only fields
// that were written are kept (a failure is thrown again), and a run of fresh boundaries empties it.
// Listed in docs/fast-paths.md with the test that guards it.
const contentTypes = new Map<string, string>();
const CACHED_CONTENT_TYPES = 256;

function contentTypeField(content: string, params: ReadonlyMap<string, string>): string {
  // Every piece with its length in front: no two lists of parameters make the same key.
  let key = `${content.length}:${content}`;
  for (const [name, value] of params) key += `${name.length}:${name}${value.length}:${value}`;
  let text = contentTypes.get(key);
  if (text === undefined) {
    text = formatContentType(content, params);
    if (contentTypes.size >= CACHED_CONTENT_TYPES) contentTypes.clear();
    contentTypes.set(key, text);
  }
  return text;
}

/**
 * A header block being written line by line: text lines gather in one string,
 * converted once (a Buffer per line and their concatenation cost more than the
 * header's own formatting); a field kept as read goes in as its bytes.
 */
class HeaderBlock {
  private readonly pieces: Buffer[] = [];
  private text = '';

  constructor(private readonly eol: string) {}

  line(data: Buffer | string): void {
    if (typeof data === 'string') {
      this.text += data + this.eol;
      return;
    }
    this.flush();
    this.pieces.push(data);
    this.text = this.eol;
  }

  /** Bytes as they are, not a line (the raw header block of a parsed part). */
  raw(data: Buffer): void {
    this.flush();
    this.pieces.push(data);
  }

  private flush(): void {
    if (this.text !== '') this.pieces.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }

  /** The block as a new Buffer: the bytes of a parsed part are copied into it, not handed out. */
  bytes(): Buffer {
    if (this.pieces.length === 0) return Buffer.from(this.text, 'utf8');
    this.flush();
    return Buffer.concat(this.pieces);
  }
}

function subtreeModified(part: Part): boolean {
  if (part.modified) return true;
  return hasParts(part) && part.body.parts.some(subtreeModified);
}

/** Where a part stands in the message being built. */
interface Position {
  /** The part the caller asked for: gets MIME-Version, and the extra and omitted fields. */
  top: boolean;
  /** A message of its own (the top, or the one inside a message/*): a canonical one gets MIME-Version. */
  message: boolean;
}

/**
 * The header block of a part, the blank line included. A parsed part that is
 * unchanged keeps its bytes; a changed one keeps the bytes of each unchanged
 * field, in the order read.
 */
function* header(part: Part, at: Position, ctx: Context, cte: string | null): Generator<Step, void, BodyStats | undefined> {
  const layout = part.rawLayout !== undefined && !part.rawLayout.dirty ? part.rawLayout : undefined;
  const eol = layout?.eol ?? CRLF;
  const extra = at.top ? ctx.extra : NONE;
  const omit = at.top ? ctx.omit : NONE;
  const omitted = (field: HeaderField): boolean => omit.length > 0 && omit.includes(field.name.toLowerCase());
  const out = new HeaderBlock(eol);

  if (layout !== undefined) {
    const hasVersion = layout.order.includes('mime-version');
    if (at.top && !hasVersion) out.line(`MIME-Version: ${part.version}`);
    const untouched =
      !part.modified && cte === null && extra.length === 0 && !part.headers.some(omitted) && !(ctx.asciiHeaders && layout.header !== undefined && !isAscii(layout.header));
    if (untouched && layout.header !== undefined) {
      out.raw(layout.header);
      yield { op: 'bytes', data: out.bytes() };
      return;
    }
    const seen = new Set<number>();
    let wroteCte = false;
    for (const entry of layout.order) {
      if (typeof entry === 'number') {
        seen.add(entry);
        const field = part.headers[entry];
        if (field !== undefined && !omitted(field)) out.line(fieldText(field, eol, ctx.asciiHeaders));
      } else if (entry === 'content-transfer-encoding' && cte !== null) {
        if (cte !== '') out.line(`Content-Transfer-Encoding: ${cte}`);
        wroteCte = true;
      } else {
        const raw = layout.mimeFields[entry];
        if (raw !== undefined) out.line(raw);
      }
    }
    part.headers.forEach((field, index) => {
      if (!seen.has(index) && !omitted(field)) out.line(fieldText(field, eol, ctx.asciiHeaders));
    });
    if (cte !== null && cte !== '' && !wroteCte) out.line(`Content-Transfer-Encoding: ${cte}`);
    for (const text of extra) out.line(withEol(text, eol));
  } else {
    if (at.message) out.line(`MIME-Version: ${part.version}`);
    for (const field of part.headers) if (!omitted(field)) out.line(fieldText(field, eol, ctx.asciiHeaders));
    for (const text of extra) out.line(withEol(text, eol));
    const written = cte ?? part.encoding;
    if (written !== '') out.line(`Content-Transfer-Encoding: ${written}`);
    out.line(contentTypeField(part.content, effectiveParams(part)));
  }
  out.line('');
  yield { op: 'bytes', data: out.bytes() };
}

function* multipartBody(part: Part & { body: { kind: 'parts'; parts: Part[] } }, ctx: Context): Plan {
  const boundary = part.params.get('boundary');
  if (boundary === undefined || boundary === '') {
    throw new MimeError(`boundary parameter is missing in ${part.content}`);
  }
  const layout = part.rawLayout !== undefined && !part.rawLayout.dirty ? part.rawLayout : undefined;
  const eol = layout?.eol ?? CRLF;
  const children = part.body.parts;
  const recorded = layout?.delimiters;
  const exact = recorded !== undefined && (recorded.length === children.length || recorded.length === children.length + 1);
  if (part.preamble !== undefined) yield { op: 'bytes', data: part.preamble };
  for (let i = 0; i < children.length; i++) {
    if (exact) yield { op: 'bytes', data: recorded[i] };
    else yield bytes(`${i > 0 ? eol : ''}--${boundary}${eol}`);
    yield* partPlan(children[i], { top: false, message: false }, ctx);
  }
  if (exact) {
    if (recorded.length > children.length) yield { op: 'bytes', data: recorded[children.length] };
    if (part.epilogue !== undefined) yield { op: 'bytes', data: part.epilogue };
    return;
  }
  yield bytes(`${eol}--${boundary}--`);
  yield part.epilogue !== undefined ? { op: 'bytes', data: part.epilogue } : bytes(eol);
}

function* messageBody(part: Part & { body: { kind: 'parts'; parts: Part[] } }, ctx: Context): Plan {
  const [inner] = part.body.parts;
  if (part.rawBody !== undefined && !subtreeModified(part)) {
    // The enclosed message as it was read, still in its transfer encoding (base64 or quoted-printable: 7-bit already).
    yield { op: 'body', transfer: 'identity', source: canonicalSource({ ...part, body: part.rawBody }) };
    return;
  }
  const encoded = part.encoding === 'base64' ? 'base64' : part.encoding === 'quoted-printable' ? 'qp-text' : null;
  if (encoded !== null) yield { op: 'push', transfer: encoded };
  if (inner !== undefined) yield* partPlan(inner, { top: false, message: true }, ctx);
  if (encoded !== null) yield { op: 'pop' };
}

/** The plan of one part, header and body, at its position. */
function* partPlan(part: Part, at: Position, ctx: Context): Plan {
  if (hasParts(part)) {
    yield* header(part, at, ctx, null);
    if (part.content.startsWith('message/')) yield* messageBody(part, ctx);
    else yield* multipartBody(part, ctx);
    return;
  }
  const leaf = yield* leafPlan(part, ctx.sevenBit);
  yield* header(part, at, ctx, leaf.cte);
  yield { op: 'body', transfer: leaf.transfer, source: leaf.source };
}

/** The plan of a whole message: `part` at the top. */
export function messagePlan(part: Part, options: BuildOptions = {}): Plan {
  return partPlan(part, { top: true, message: true }, contextOf(options));
}
