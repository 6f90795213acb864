/**
 * What the smtp layer needs from the mime module beyond the Tcl API: sending
 * a part as it stands, with header additions and removals that never touch
 * the part, and facts about its bytes before it is sent.
 *
 * @internal
 */
import type { Readable } from 'node:stream';
import { anyEightBit, countBytes, messageChunks as chunksOf, messageStream } from './build';
import { headerFields } from './fields';
import { contextOf, type BuildOptions } from './plan';
import { isToken as isTokenValue, partOf, type Token } from './tokens';

export type { BuildOptions as MessageStreamOptions } from './plan';

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
 * build with the same `extraHeaders` array does not check it again. @internal
 */
export function checkMessageOptions(token: Token, options: BuildOptions = {}): void {
  partOf(token, 'createMessageStream');
  contextOf(options);
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
