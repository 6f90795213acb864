/**
 * What the smtp layer needs from the mime module beyond the Tcl API: sending
 * a part as it stands, with header additions and removals that never touch
 * the part, and facts about its bytes before it is sent.
 *
 * @internal
 */
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { anyEightBit, countBytes, messageChunks as chunksOf, messageStream } from './build/writer';
import { headerFields } from './fields';
import { checkExtraHeaders, type BuildOptions } from './build/plan';
import type { Part } from './part';
import { isToken as isTokenValue, partOf, type Token } from './tokens';

export type { BuildOptions as MessageStreamOptions } from './build/plan';
/** True for a build error that only SMTPUTF8 would have avoided (a non-ASCII local part in a 7-bit header). @internal */
export { needsSmtputf8 } from './build/address-domains';

/** True for a mime token (live or finalized). @internal */
export function isToken(value: unknown): value is Token {
  return isTokenValue(value);
}

/**
 * The message bytes of a token as a stream. `extraHeaders` are added at the
 * top level after the part's own fields (checked as setheader checks them:
 * this throws at once on a bad one); fields named in `omitHeaders` (any case)
 * are left out at the top level only; `sevenBit` encodes every 8bit or binary
 * body again (quoted-printable for text, base64 otherwise) so that the
 * output is 7-bit. The part itself is not changed. @internal
 */
export function createMessageStream(token: Token, options: BuildOptions = {}): Readable {
  return messageStream(partOf(token, 'createMessageStream'), options);
}

/** createMessageStream's bytes as an async iterable, for a consumer that only iterates (no Readable around them). @internal */
export function messageChunks(token: Token, options: BuildOptions = {}): AsyncIterable<Buffer> {
  return chunksOf(partOf(token, 'createMessageStream'), options);
}

/**
 * Checks what createMessageStream would check at once (the token, and the
 * `extraHeaders` as setheader checks them) without making a stream; a later
 * build checks them again, mostly from formatField's cache. @internal
 */
export function checkMessageOptions(token: Token, options: BuildOptions = {}): void {
  partOf(token, 'createMessageStream');
  checkExtraHeaders(options.extraHeaders ?? []);
}

/** The exact length in octets of createMessageStream's output with the same options, without holding a file body. @internal */
export async function messageSize(token: Token, options: BuildOptions = {}): Promise<number> {
  return countBytes(partOf(token, 'messageSize'), options);
}

/**
 * Whether createMessageStream's output with the same options holds any octet
 * ≥ 0x80. Without `sevenBit` that is what 8BITMIME (or SMTPUTF8) would have to
 * carry; with it, only header text can remain 8-bit (an address in UTF-8, a
 * parsed field as read), which only SMTPUTF8 carries. @internal
 */
export async function hasEightBit(token: Token, options: BuildOptions = {}): Promise<boolean> {
  return anyEightBit(partOf(token, 'hasEightBit'), options);
}

/** The top-level header fields as stored, in order (Content-Type, Content-Transfer-Encoding and MIME-Version aside). @internal */
export function getHeaderFields(token: Token): Array<{ name: string; value: string }> {
  return headerFields(partOf(token, 'getHeaderFields'));
}

interface FileBody {
  path: string;
  offset: number;
  length: number | undefined;
}

function fileBodies(part: Part, into: FileBody[]): void {
  const body = part.body;
  if (body.kind === 'file') into.push({ path: body.path, offset: body.offset ?? 0, length: body.length });
  else if (body.kind === 'parts') for (const child of body.parts) fileBodies(child, into);
}

/**
 * The octets the file bodies of a token hold now (canonical files, regions of
 * a parsed file): a floor under the length of its message, found with one
 * stat per file and no read, for a caller deciding whether the message is
 * small enough to hold in memory. A file that cannot be looked at counts 0
 * (building the message reports it), and so does a released token. @internal
 */
export async function fileBodyBytes(token: Token): Promise<number> {
  const files: FileBody[] = [];
  try {
    fileBodies(partOf(token, 'fileBodyBytes'), files);
  } catch {
    return 0;
  }
  if (files.length === 0) return 0;
  const sizes = await Promise.all(
    files.map(async (file) => {
      if (file.length !== undefined) return file.length;
      try {
        return Math.max(0, (await stat(file.path)).size - file.offset);
      } catch {
        return 0;
      }
    }),
  );
  return sizes.reduce((total, size) => total + size, 0);
}
