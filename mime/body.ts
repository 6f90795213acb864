/**
 * mime::getbody: the body of a leaf, transfer-decoded, and with `decode` also
 * charset-decoded to a JavaScript string.
 */
import { MimeError } from '../lib/errors';
import { parseOptions, typed, type OptionSpecs, type TclWords } from '../lib/options';
import { readAllSync } from './build/writer';
import { decodeCharset } from './codec/charsets';
import { decodeBase64 } from './parse/transfer';
import { hasParts, type Part } from './part';
import { canonicalSource, isEncodedBody, memoryBytes } from './build/plan';
import { qpDecodeBytes } from './codec/qp';
import { partOf, type Token } from './tokens';

const GETBODY = {
  decode: { kind: 'boolean' },
  command: typed<BodyCallback>()({ kind: 'function' }),
  blocksize: { kind: 'number', integer: true, above: 0 },
} as const satisfies OptionSpecs;

/** What a `command` callback receives: each block, then the end (or the error that stopped it). */
export type BodyCallback = (event: 'data' | 'end' | 'error', data?: string | Buffer) => unknown;

/** Options of {@link getbody}. */
export interface GetbodyOptions {
  /** Convert the body from its charset to a string (text parts, and parts with a charset parameter). */
  decode?: boolean;
  /** Receive the body in blocks instead: `command('data', block)` for each, then `command('end')`. */
  command?: BodyCallback;
  /** The size of a block for `command`: characters for a string, octets for bytes (default 4096). */
  blocksize?: number;
}

/**
 * Undoes the transfer encoding of a parsed body; an encoding it does not know
 * leaves the bytes as they are. Quoted-printable is read as mime.qp_decode
 * reads it: white space that transports added at line ends goes (RFC 2045
 * section 6.7, rule 3).
 */
function transferDecode(data: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return decodeBase64(data);
  if (encoding === 'quoted-printable') return qpDecodeBytes(data);
  return data;
}

/** The body before any charset decoding: canonical bodies as given, parsed ones transfer-decoded. */
function rawBody(part: Part): string | Buffer {
  const body = part.body;
  if (body.kind === 'string') return typeof body.data === 'string' ? body.data : Buffer.from(body.data);
  // A parsed body, or a file (a canonical one, or a region of a parsed file); canonicalSource refuses sub-parts.
  const data = readAllSync(canonicalSource(part));
  return isEncodedBody(part) ? transferDecode(data, part.encoding) : data;
}

function charsetDecode(part: Part, body: string | Buffer): string | Buffer {
  const charset = part.params.get('charset');
  const textual = part.content.startsWith('text/') || charset !== undefined;
  if (!textual) return typeof body === 'string' ? (memoryBytes(part) as Buffer) : body;
  if (typeof body === 'string') return body;
  const name = charset ?? 'us-ascii';
  try {
    return decodeCharset(body, name);
  } catch (error) {
    throw new MimeError(`-decode failed: can't reversemap charset ${name}`, 'EENCODING', { cause: error });
  }
}

/** Blocks of at most `size` characters (never splitting a surrogate pair) or octets. */
function* blocks(body: string | Buffer, size: number): Generator<string | Buffer> {
  if (Buffer.isBuffer(body)) {
    for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
    return;
  }
  let at = 0;
  while (at < body.length) {
    let end = Math.min(body.length, at + size);
    const last = body.charCodeAt(end - 1);
    if (end < body.length && last >= 0xd800 && last <= 0xdbff) end = end - 1 > at ? end - 1 : end + 1;
    yield body.slice(at, end);
    at = end;
  }
}

// Tcllib's -decode is a flag without a value: `getbody $tok -decode -command cb`.
function flagWithoutValue(args: unknown[]): unknown[] {
  if (args.length === 0 || typeof args[0] !== 'string') return args;
  const out: unknown[] = [];
  for (let i = 0; i < args.length; i++) {
    out.push(args[i]);
    if (args[i] === '-decode') {
      const next = args[i + 1];
      if (next === undefined || (typeof next === 'string' && next.startsWith('-'))) out.push(true);
      else out.push(args[++i]);
    }
  }
  return out;
}

/**
 * The body of a leaf part. Canonical bodies come back as given (a string
 * stays a string, bytes stay a Buffer, a file is read); parsed bodies come
 * back transfer-decoded as a Buffer. With `decode`, a text part (or any part
 * with a charset parameter) comes back as a string decoded from its charset
 * (default us-ascii), anything else as a Buffer. With `command`, the body is
 * handed over in blocks and the callback's last answer is returned.
 *
 * Tcl: `mime::getbody $tok -decode`
 * TypeScript: `mime.getbody(tok, { decode: true })` (or `mime.getbody(tok, '-decode')`)
 *
 * @throws MimeError `MIME part isn't a leaf` for a multipart, and
 *   `-decode failed: can't reversemap charset <cs>` for an unknown charset.
 */
export function getbody(token: Token, options?: GetbodyOptions): string | Buffer;
export function getbody(token: Token, ...flat: TclWords): string | Buffer;
export function getbody(token: Token, ...args: unknown[]): unknown {
  const part = partOf(token, 'mime.getbody');
  const options = parseOptions('mime.getbody', GETBODY, flagWithoutValue(args));
  const blocksize = options.blocksize ?? 4096;
  if (hasParts(part)) throw new MimeError("MIME part isn't a leaf");
  const command = options.command;

  let body: string | Buffer;
  try {
    body = rawBody(part);
    if (options.decode === true) body = charsetDecode(part, body);
  } catch (error) {
    if (command !== undefined) command('error', (error as Error).message);
    throw error;
  }
  if (command === undefined) return body;
  for (const block of blocks(body, blocksize)) command('data', block);
  return command('end');
}
