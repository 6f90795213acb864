/**
 * mime::buildmessage and mime::copymessage: a part and everything below it as
 * the bytes of a message.
 */
import type { Writable } from 'node:stream';
import { buildBytes, copyTo } from './build/writer';
import { partOf, type Token } from './tokens';

/**
 * The whole part, header and body, CRLF line ends, as a string of one
 * character per octet (Latin-1, "binary"): `Buffer.from(text, 'latin1')`
 * gives the exact bytes, and `mime.initialize({ string: text })` parses them
 * back. Output is 7-bit ASCII unless a part asked for 8bit or binary or was
 * parsed with 8-bit content, so in practice the string is plain ASCII. File
 * bodies are read with synchronous I/O; use {@link copymessage} for large
 * ones.
 *
 * Tcl: `set text [mime::buildmessage $tok]`
 * TypeScript: `const text = mime.buildmessage(tok)`
 */
export function buildmessage(token: Token): string {
  return buildBytes(partOf(token, 'mime.buildmessage')).toString('latin1');
}

/**
 * Streams the part to `writable` (the same bytes as buildmessage), waiting
 * for 'drain' whenever the stream asks for it; file bodies are read and
 * encoded 64 KiB at a time, never held whole. Resolves when everything has
 * been written; the stream is left open, as Tcllib leaves its channel.
 *
 * Tcl: `mime::copymessage $tok $channel`
 * TypeScript: `await mime.copymessage(tok, fs.createWriteStream('out.eml'))`
 */
export async function copymessage(token: Token, writable: Writable): Promise<void> {
  await copyTo(partOf(token, 'mime.copymessage'), writable);
}
