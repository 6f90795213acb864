/**
 * Parse mode: an existing RFC 5322 / MIME message becomes a tree of parts
 * (part.ts), the same model the builder writes, so that build → parse → build
 * gives the same bytes.
 *
 * Like Python's email feedparser and unlike Tcllib, the parser does not throw
 * on a malformed message: every problem it can work around is recorded in the
 * part's `defects` and parsing carries on. What it keeps for round trips:
 * each field's raw bytes, the whole header block (`rawLayout.header`), the
 * delimiters, preamble and epilogue of multiparts, and leaf bodies exactly as
 * they stood (still transfer-encoded).
 *
 * Behaviour, and where it differs from Tcllib 1.7 (docs/differences-from-tcllib.md):
 * - LF and CRLF line ends, mixed; folded values are unfolded in `value`.
 * - A line that is no field (`blah`) starts the body with the defect
 *   `improper line in header: blah`; Tcllib throws that text. A line with a
 *   colon is a field even when its name is malformed, as in Tcllib (defect).
 * - A leading mbox `From ` line is skipped, kept in `rawLayout.header` (defect).
 * - A repeated Content-Type, Content-Transfer-Encoding or MIME-Version: the
 *   first counts, the repeat is a defect (kept in `rawLayout.header`); Tcllib
 *   throws `multiple Content-Type fields starting with ...`.
 * - A bad Content-Type is a defect and reads as text/plain; charset=us-ascii.
 * - Delimiters may carry transport padding; preamble and epilogue are kept; a
 *   missing close delimiter is a defect and the last part runs to the end.
 * - Content-MD5 is an ordinary field (Tcllib drops it).
 * - message/* parts hold one part parsed from their (transfer-decoded) body,
 *   for files as well as strings.
 * - Bounds (limits.ts): past a depth, part count, header size or memory
 *   budget the rest stays body bytes, with a defect.
 */
import { MimeError } from '../../lib/errors';
import { defaultContentType, readContentType, readTransferEncoding, type ContentType } from './content';
import { excerpt, readHeaderBlock, type HeaderBlock, type RawField } from './header';
import { PARSE_LIMITS, type ParseLimits } from './limits';
import { scanDelimiters } from './multipart';
import { BufferSource, FileSource, type Source } from './source';
import { decodeBase64 } from './transfer';
import { qpDecodeBytes } from '../codec/qp';
import type { HeaderField, Part, RawLayout } from '../part';

type MimeFieldName = 'content-type' | 'content-transfer-encoding' | 'mime-version';
const MIME_FIELDS: ReadonlySet<string> = new Set<MimeFieldName>(['content-type', 'content-transfer-encoding', 'mime-version']);
const PROPER_NAMES: Record<MimeFieldName, string> = {
  'content-type': 'Content-Type',
  'content-transfer-encoding': 'Content-Transfer-Encoding',
  'mime-version': 'MIME-Version',
};
// RFC 2045 section 6.4: a multipart is never encoded, or its delimiters could not be found.
const MULTIPART_ENCODINGS = new Set(['', '7bit', '8bit', 'binary']);
// The first read of a header block from a file; it grows fourfold while the block goes on.
const FIRST_HEADER_READ = 16 * 1024;

/** State shared by every part of one parse. */
interface Walk {
  limits: ParseLimits;
  /** Parts that may still be created. */
  parts: { remaining: number };
  /** Header fields that may still be created. */
  fields: { remaining: number };
}

/** Where a part lies and what surrounds it. */
interface Place {
  source: Source;
  start: number;
  end: number;
  depth: number;
  /** The enclosing multipart's type (its default for children differs for multipart/digest). */
  parentContent: string | null;
  /** The line break to assume when the part has none of its own. */
  eol: string;
  top: boolean;
}

function readHeader(walk: Walk, place: Place): { block: HeaderBlock; bytes: Buffer | null } {
  const { source, start, end } = place;
  const max = walk.limits.maxHeaderBlock;
  let want = source.inMemory ? max : Math.min(FIRST_HEADER_READ, max);
  for (;;) {
    const stop = Math.min(end, start + want);
    const buf = source.peek(start, stop);
    const block = readHeaderBlock(buf, {
      atEnd: stop === end,
      atLimit: want >= max,
      allowMbox: place.top,
      fieldBudget: walk.fields,
    });
    if (block.complete) {
      // Keep a copy of the block alone (for a file), and point the fields' raw bytes into it.
      const bytes = source.hold(start, start + block.length);
      if (bytes !== null && bytes !== buf) {
        for (const field of block.fields) {
          const offset = field.raw.byteOffset - buf.byteOffset;
          field.raw = bytes.subarray(offset, offset + field.raw.length);
        }
      }
      return { block, bytes };
    }
    want = Math.min(max, want * 4);
  }
}

/** Sorts the fields into the three MIME fields and the rest, recording where each stood. */
function sortFields(fields: RawField[], defects: string[]) {
  const headers: HeaderField[] = [];
  const layout: Pick<RawLayout, 'order' | 'mimeFields'> = { order: [], mimeFields: {} };
  const values: Partial<Record<MimeFieldName, string>> = {};
  for (const field of fields) {
    const key = field.name.toLowerCase();
    if (MIME_FIELDS.has(key)) {
      const name = key as MimeFieldName;
      if (values[name] !== undefined) {
        defects.push(`multiple ${PROPER_NAMES[name]} fields starting with ${field.name}: ${excerpt(Buffer.from(field.value))}; the first one counts`);
        continue;
      }
      values[name] = field.value;
      layout.mimeFields[name] = field.raw;
      layout.order.push(name);
    } else {
      layout.order.push(headers.length);
      headers.push({ name: field.name, value: field.value, raw: field.raw });
    }
  }
  return { headers, layout, values };
}

function parsePart(walk: Walk, place: Place): Part {
  const defects: string[] = [];
  const { block, bytes } = readHeader(walk, place);
  let fields = block.fields;
  let bodyStart = place.start + block.length;
  defects.push(...block.defects);
  if (bytes === null) {
    defects.push(`header block of ${block.length} bytes passes the memory budget: the part is kept unparsed`);
    fields = [];
    bodyStart = place.start;
  }
  const { headers, layout, values } = sortFields(fields, defects);

  let type: ContentType = defaultContentType(place.parentContent);
  if (values['content-type'] !== undefined) {
    type = readContentType(values['content-type'], place.parentContent);
    if (type.defect) defects.push(type.defect);
  }
  let encoding = '';
  if (values['content-transfer-encoding'] !== undefined) {
    const read = readTransferEncoding(values['content-transfer-encoding']);
    encoding = read.encoding;
    if (read.defect) defects.push(read.defect);
  }
  const eol = block.eol ?? place.eol;
  const part: Part = {
    content: type.content,
    params: type.params,
    encoding,
    version: values['mime-version'] ?? '1.0',
    headers,
    body: place.source.body(bodyStart, place.end),
    parsed: true,
    defects,
    rawLayout: { ...layout, eol, header: bytes ?? Buffer.alloc(0) },
  };
  const inner: Place = { ...place, start: bodyStart, eol, top: false };
  if (part.content.startsWith('multipart/')) splitMultipart(walk, part, inner);
  else if (part.content.startsWith('message/')) openMessage(walk, part, inner);
  return part;
}

function splitMultipart(walk: Walk, part: Part, body: Place): void {
  const { source, start, end } = body;
  const boundary = part.params.get('boundary');
  const keepLeaf = (why: string): void => {
    part.defects.push(`${why}: the body is kept as one leaf`);
  };
  if (boundary === undefined || boundary === '') return keepLeaf(`boundary parameter is missing in ${part.content}`);
  if (boundary.length > walk.limits.maxBoundary) return keepLeaf(`boundary of ${part.content} is longer than ${walk.limits.maxBoundary} characters`);
  if (body.depth >= walk.limits.maxDepth) return keepLeaf(`${part.content} nested deeper than ${walk.limits.maxDepth} levels`);
  if (!MULTIPART_ENCODINGS.has(part.encoding)) {
    part.defects.push(`${part.content} may not have Content-Transfer-Encoding ${part.encoding} (RFC 2045 section 6.4)`);
  }

  const scan = scanDelimiters(source, start, end, Buffer.from(boundary, 'utf8'), walk.parts.remaining);
  if (scan.tooMany) return keepLeaf(`${part.content} holds more parts than the limit of ${walk.limits.maxParts} per message`);
  const opening = scan.closed ? scan.delimiters.slice(0, -1) : scan.delimiters;
  if (opening.length === 0) return keepLeaf(`no delimiter --${boundary} found in ${part.content}`);

  const first = opening[0];
  const preamble = first.dashes > start ? source.hold(start, first.dashes) : undefined;
  const delimiters: Array<Buffer | null> = opening.map((delimiter, index) =>
    source.hold(index === 0 ? delimiter.dashes : delimiter.start, delimiter.end),
  );
  let epilogue: Buffer | null | undefined;
  if (scan.closed) {
    const close = scan.delimiters[scan.delimiters.length - 1];
    const dashesEnd = close.dashes + 2 + Buffer.byteLength(boundary) + 2;
    delimiters.push(source.hold(close.start, dashesEnd));
    epilogue = source.hold(dashesEnd, end);
  }
  if (preamble === null || epilogue === null || delimiters.includes(null)) {
    return keepLeaf(`preamble, delimiters and epilogue of ${part.content} pass the memory budget`);
  }

  walk.parts.remaining -= opening.length;
  const parts = opening.map((delimiter, index) => {
    const next = scan.delimiters[index + 1];
    return parsePart(walk, {
      ...body,
      start: delimiter.end,
      end: next === undefined ? end : next.start,
      depth: body.depth + 1,
      parentContent: part.content,
    });
  });
  if (!scan.closed) part.defects.push(`close delimiter --${boundary}-- missing in ${part.content}: the last part runs to the end`);
  part.body = { kind: 'parts', parts };
  if (preamble !== undefined) part.preamble = preamble;
  if (epilogue !== undefined) part.epilogue = epilogue;
  (part.rawLayout as RawLayout).delimiters = delimiters as Buffer[];
}

function openMessage(walk: Walk, part: Part, body: Place): void {
  const keepLeaf = (why: string): void => {
    part.defects.push(`${why}: the body is kept as one leaf`);
  };
  if (body.depth >= walk.limits.maxDepth) return keepLeaf(`${part.content} nested deeper than ${walk.limits.maxDepth} levels`);
  if (walk.parts.remaining <= 0) return keepLeaf(`${part.content} passes the limit of ${walk.limits.maxParts} parts per message`);

  let inner: Place = { ...body, depth: body.depth + 1, parentContent: part.content };
  if (part.encoding === 'base64' || part.encoding === 'quoted-printable') {
    // The enclosed message is readable only decoded; the encoded bytes stay for the round trip.
    const encoded = body.source.hold(body.start, body.end);
    if (encoded === null) return keepLeaf(`encoded ${part.content} body passes the memory budget`);
    const decoded = part.encoding === 'base64' ? decodeBase64(encoded) : qpDecodeBytes(encoded);
    if (!body.source.charge(decoded.length)) {
      return keepLeaf(`decoded ${part.content} body passes the memory budget`);
    }
    part.rawBody = part.body;
    inner = { ...inner, source: new BufferSource(decoded), start: 0, end: decoded.length };
  }
  walk.parts.remaining -= 1;
  part.body = { kind: 'parts', parts: [parsePart(walk, inner)] };
}

function parseSource(source: Source, limits: Partial<ParseLimits>): Part {
  const all: ParseLimits = { ...PARSE_LIMITS, ...limits };
  const walk: Walk = { limits: all, parts: { remaining: all.maxParts - 1 }, fields: { remaining: all.maxFields } };
  return parsePart(walk, { source, start: 0, end: source.size, depth: 0, parentContent: null, eol: '\r\n', top: true });
}

/**
 * Parses a message held in memory. Never throws on a malformed message: see
 * each part's `defects`. The parts share memory with `data` (leaf bodies and
 * raw fields are views into it), so `data` must not be changed afterwards.
 *
 * Tcl: `set tok [mime::initialize -string $message]`
 * TypeScript: `const tok = mime.initialize({ string: message })`, which calls `parseBuffer(Buffer.from(message))`.
 */
export function parseBuffer(data: Buffer, limits: Partial<ParseLimits> = {}): Part {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return parseSource(new BufferSource(bytes), limits);
}

/**
 * Parses a message file without holding its bodies: each leaf body is a
 * `{ kind: 'file', path, offset, length, encoded: true }` region of the file,
 * read later when it is built or decoded. Only header blocks, preambles,
 * epilogues and the decoded bodies of encoded message/* parts are copied into
 * memory, within `maxHeldBytes`. Throws a MimeError (code EFILE) when the file
 * cannot be read; never on a malformed message.
 *
 * Tcl: `set tok [mime::initialize -file $path]`
 * TypeScript: `const tok = mime.initialize({ file: path })`, which calls `parseFile(path)`.
 */
export function parseFile(path: string, limits: Partial<ParseLimits> = {}): Part {
  const all: ParseLimits = { ...PARSE_LIMITS, ...limits };
  let source: FileSource;
  try {
    source = new FileSource(path, all.maxHeldBytes);
  } catch (error) {
    throw new MimeError(`couldn't open "${path}": ${(error as Error).message}`, 'EFILE', { cause: error });
  }
  try {
    return parseSource(source, all);
  } catch (error) {
    if (error instanceof MimeError) throw error;
    throw new MimeError(`error reading "${path}": ${(error as Error).message}`, 'EFILE', { cause: error });
  } finally {
    source.close();
  }
}
