/**
 * mime::initialize and mime::finalize: making a token for a new part
 * (canonical mode), for an existing message (parse mode), and releasing it.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidInputError, MimeError, OptionError } from '../lib/errors';
import { parseOptions, type OptionSpecs, type OptionsOf, type TclWords } from '../lib/options';
import { refuseLineBreaks } from '../lib/text';
import { decodeCharset } from './codec/charsets';
import { ENCODINGS } from './codec/encoding';
import { libmime } from './codec/libraries';
import { formatField, isMimeToken, isReservedField } from './build/headers';
import { parseBuffer, parseFile } from './parse/message';
import { parseString } from './parse/string-input';
import { newPart, hasParts, type BodySource, type Part } from './part';
import { asciiTextIn, memoryBytes, newBoundary } from './build/plan';
import { issueToken, partsOf, release, type Subordinates, type Token } from './tokens';
import { uniqueID } from './build/uniqueid';

const INITIALIZE = {
  canonical: { kind: 'string' },
  param: { kind: 'pair', repeat: true },
  encoding: { kind: 'string', values: ENCODINGS },
  header: { kind: 'pair', repeat: true },
  string: { kind: 'any' },
  file: { kind: 'string' },
  parts: { kind: 'any' },
} as const satisfies OptionSpecs;

type Initialize = OptionsOf<typeof INITIALIZE>;

/** Options of {@link initialize}, in object form. */
export interface InitializeOptions {
  /** `type/subtype` of a new part, optionally with parameters (`text/plain; charset=utf-8`); without it the `string` or `file` is parsed as an existing message. */
  canonical?: string;
  /** Content-Type parameters, `[name, value]` pairs (repeatable in the flat list). */
  param?: Array<[string, string]> | [string, string];
  /** The Content-Transfer-Encoding to use: 7bit, 8bit, binary, quoted-printable or base64. */
  encoding?: string;
  /** Header fields, `[name, value]` pairs (repeatable in the flat list). */
  header?: Array<[string, string]> | [string, string];
  /** The body (canonical: text in the part's charset, or bytes) or the message to parse (bytes; see docs/mime.md). */
  string?: string | Buffer | Uint8Array;
  /** A file holding the body (canonical) or the message to parse. */
  file?: string;
  /** Tokens of the sub-parts of a multipart (or the one part of a message/*). */
  parts?: Token[];
}

const COMMAND = 'mime.initialize';

function pairValue(option: string, pair: readonly [string, unknown]): string {
  const value = pair[1];
  if (typeof value !== 'string') {
    throw new OptionError(COMMAND, option, `-${option} expects a key and a value, not ${pair[0]} with an array as the value`);
  }
  return value;
}

/** RFC 2046 section 5.1.1: 1 to 70 characters from bchars, not ending in a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function checkParams(pairs: ReadonlyArray<readonly [string, unknown]>): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of pairs) {
    const [name] = pair;
    const value = pairValue('param', pair);
    const lower = name.toLowerCase();
    if (!isMimeToken(name)) {
      throw new InvalidInputError(`param ${JSON.stringify(name)}`, 'a parameter name must be an RFC 2045 token (printable ASCII, no space or tspecials)');
    }
    if (params.has(lower)) throw new MimeError(`the ${name} parameter may be specified at most once`);
    refuseLineBreaks(`param ${name}`, value);
    params.set(lower, value);
  }
  return params;
}

/**
 * The type and parameters of `-canonical`. Tcl scripts often write the
 * parameters there (`-canonical "text/plain; name=\"a.csv\""`), as Tcllib
 * allows: they are read as a Content-Type value would be, and join those of
 * `-param`.
 */
function checkContent(canonical: string): { content: string; params: Array<[string, string]> } {
  let type = canonical;
  let params: Array<[string, string]> = [];
  if (canonical.includes(';')) {
    refuseLineBreaks('canonical', canonical);
    const parsed = libmime().parseHeaderValue(canonical);
    type = parsed.value.trim();
    params = Object.entries(parsed.params);
  }
  const slash = type.indexOf('/');
  if (slash < 0 || !isMimeToken(type.slice(0, slash)) || !isMimeToken(type.slice(slash + 1))) {
    throw new OptionError(COMMAND, 'canonical', `-canonical expects type/subtype (two RFC 2045 tokens), optionally with parameters, not ${JSON.stringify(canonical)}`);
  }
  return { content: type.toLowerCase(), params };
}

function stringValue(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  throw new OptionError(COMMAND, 'string', `-string expects a string or a Buffer, not ${value === null ? 'null' : typeof value}`);
}

function checkFile(path: string): string {
  const absolute = resolve(path);
  let isFile: boolean;
  try {
    isFile = statSync(absolute).isFile();
  } catch (error) {
    throw new MimeError(`couldn't open "${path}": ${(error as Error).message}`, 'EFILE', { cause: error });
  }
  if (!isFile) throw new MimeError(`couldn't open "${path}": not a regular file`, 'EFILE');
  return absolute;
}

/** The bytes a sub-part would write without encoding them, where a boundary must not appear. */
function* plainBytes(part: Part): Generator<Buffer> {
  if (part.preamble) yield part.preamble;
  if (part.epilogue) yield part.epilogue;
  if (hasParts(part)) {
    for (const child of part.body.parts) yield* plainBytes(child);
    return;
  }
  const data = memoryBytes(part);
  if (data !== null) yield data;
}

function boundaryCollides(boundary: string, children: Part[]): boolean {
  const needle = Buffer.from(boundary, 'utf8');
  for (const child of children) {
    for (const data of plainBytes(child)) if (data.includes(needle)) return true;
    // A delimiter of a nested multipart that starts with ours would read as ours.
    if (hasParts(child)) {
      const inner = child.params.get('boundary');
      if (inner !== undefined && (inner.startsWith(boundary) || boundary.startsWith(inner))) return true;
    }
  }
  return false;
}

function chooseBoundary(params: Map<string, string>, children: Part[]): void {
  const given = params.get('boundary');
  if (given !== undefined) {
    if (!BOUNDARY.test(given)) {
      throw new InvalidInputError('param boundary', `${JSON.stringify(given)} is not a boundary: 1 to 70 characters of RFC 2046 bchars, not ending in a space`);
    }
    if (boundaryCollides(given, children)) {
      throw new MimeError(`the boundary ${JSON.stringify(given)} occurs in a sub-part: choose another one, or leave it out for a random one`);
    }
    return;
  }
  let boundary = newBoundary();
  while (boundaryCollides(boundary, children)) boundary = newBoundary();
  params.set('boundary', boundary);
}

/** The text of a string body must be representable in its charset: otherwise it would be changed silently. */
function checkCharset(part: Part): void {
  if (part.body.kind !== 'string' || typeof part.body.data !== 'string') return;
  const charset = part.params.get('charset');
  if (charset === undefined || /^utf-?8$/i.test(charset) || asciiTextIn(part.body.data, charset)) return;
  const encoded = memoryBytes(part) as Buffer;
  if (decodeCharset(encoded, charset) !== part.body.data) {
    throw new MimeError(`the text cannot be written in charset ${charset} without changing it`, 'EENCODING');
  }
}

function canonicalPart(options: Initialize, canonical: { content: string; params: Array<[string, string]> }): Part {
  const content = canonical.content;
  const given = options.param ?? [];
  for (const [name] of canonical.params) {
    const again = given.find((pair) => pair[0].toLowerCase() === name);
    if (again) throw new MimeError(`the ${again[0]} parameter may be specified at most once: it is in -canonical and in -param`);
  }
  const params = checkParams([...canonical.params, ...given]);
  const encoding = options.encoding ?? '';
  const sources = (['string', 'file', 'parts'] as const).filter((name) => options[name] !== undefined);
  if (sources.length !== 1) {
    throw new OptionError(COMMAND, sources[1], 'specify exactly one of -file, -parts, or -string');
  }

  let body: BodySource;
  if (options.parts !== undefined) {
    if (/^(text|image|audio|video)\//.test(content) || !/^(multipart|message)\//.test(content)) {
      throw new MimeError(`-canonical ${content} and -parts do not mix`);
    }
    if (encoding !== '') throw new MimeError('-encoding and -parts do not mix');
    const parts = partsOf(options.parts, COMMAND);
    if (content.startsWith('message/') && parts.length !== 1) {
      throw new MimeError(`-canonical ${content} holds exactly one part, not ${parts.length}`);
    }
    body = { kind: 'parts', parts };
  } else if (options.file !== undefined) {
    body = { kind: 'file', path: checkFile(options.file) };
  } else {
    body = { kind: 'string', data: stringValue(options.string) };
  }

  const part = newPart(content, body);
  part.params = params;
  part.encoding = encoding;
  for (const pair of options.header ?? []) {
    const [name] = pair;
    const value = pairValue('header', pair);
    if (isReservedField(name)) {
      const lower = name.toLowerCase();
      if (lower === 'content-type') throw new MimeError(`use -canonical instead of -header ${name} ${value}`, 'EHEADER');
      if (lower === 'content-transfer-encoding') throw new MimeError(`use -encoding instead of -header ${name} ${value}`, 'EHEADER');
      throw new MimeError("don't go there...", 'EHEADER');
    }
    formatField(name, value); // checks name and value as setheader does: refuses what it could not write safely
    part.headers.push({ name, value });
  }
  if (!part.headers.some((field) => field.name.toLowerCase() === 'content-id')) {
    part.headers.push({ name: 'Content-ID', value: uniqueID() });
  }
  if (hasParts(part) && content.startsWith('multipart/')) chooseBoundary(part.params, part.body.parts);
  checkCharset(part);
  return part;
}

function parsedPart(options: Initialize): Part {
  for (const name of ['param', 'encoding', 'header', 'parts'] as const) {
    if (options[name] !== undefined) throw new OptionError(COMMAND, name, `-${name} requires -canonical`);
  }
  if ((options.string === undefined) === (options.file === undefined)) {
    throw new OptionError(COMMAND, options.string === undefined ? undefined : 'file', 'specify exactly one of -file or -string');
  }
  if (options.file !== undefined) return parseFile(checkFile(options.file));
  const message = stringValue(options.string);
  // A string is the message's text or its bytes one character per byte: parseString says which, or refuses to guess.
  return Buffer.isBuffer(message) ? parseBuffer(message) : parseString(message, parseBuffer);
}

/**
 * Creates a MIME part and returns its token. With `canonical` the part is
 * new: its type, parameters, encoding, header fields, and one body source
 * (`string`, `file` or `parts`); a Content-ID is added unless one is given.
 * Without `canonical` the `string` or `file` is parsed as an existing message.
 *
 * Tcl: `set tok [mime::initialize -canonical text/plain -param {charset utf-8} -header {Subject Hi} -string "hello"]`
 * TypeScript: `const tok = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], header: [['Subject', 'Hi']], string: 'hello' })`
 *
 * @throws OptionError for a bad option; MimeError (EHEADER, EFILE, ETOKEN,
 *   EENCODING, EMIME) for what Tcllib refuses; InvalidInputError for a
 *   header or parameter that could not be written safely.
 */
export function initialize(options?: InitializeOptions): Token;
export function initialize(...flat: TclWords): Token;
export function initialize(...args: unknown[]): Token {
  const options = parseOptions(COMMAND, INITIALIZE, args);
  if (options.canonical !== undefined) {
    return issueToken(canonicalPart(options, checkContent(options.canonical)));
  }
  return issueToken(parsedPart(options));
}

const FINALIZE = {
  subordinates: { kind: 'string', values: ['all', 'dynamic', 'none'] },
} as const satisfies OptionSpecs;

/** Options of {@link finalize}. */
export interface FinalizeOptions {
  /** `dynamic` (default): also the parts that parsing created; `all`: the whole tree; `none`: this token only. */
  subordinates?: Subordinates;
}

/**
 * Releases a token, and the tokens below it as `subordinates` says. Using a
 * released token afterwards throws a MimeError (code ETOKEN).
 *
 * Tcl: `mime::finalize $tok -subordinates all`
 * TypeScript: `mime.finalize(tok, { subordinates: 'all' })`
 */
export function finalize(token: Token, options?: FinalizeOptions): void;
export function finalize(token: Token, ...flat: TclWords): void;
export function finalize(token: Token, ...args: unknown[]): void {
  const options = parseOptions('mime.finalize', FINALIZE, args);
  release(token, options.subordinates ?? 'dynamic', 'mime.finalize');
}
