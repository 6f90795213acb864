/**
 * What the session needs to know about a message before MAIL: its size when it
 * can be known without reading a stream, whether it holds 8-bit bytes, and a
 * way to read it. Text, bytes, a stream of bytes and a mime token are accepted;
 * a token is serialized by the mime module (re-encoded to 7 bits on request).
 */
import { Readable } from 'node:stream';
import { InvalidInputError } from '../../lib/errors';
import { firstEightBitOffset, normalizedLength } from '../../lib/stream';
import { hasEightBit, isToken, messageChunks, messageSize, type MessageStreamOptions, type Token } from '../../mime';
import { fileBodyBytes } from '../../mime/transmit';
import type { DkimSigner } from '../dkim/sign';
import type { MessageChanges, MessageSource } from './types';

export interface PreparedMessage {
  /** Octets once line ends are CRLF (RFC 1870's SIZE), or null for a stream. */
  size: number | null;
  /** True or false when known; null for a stream (not read ahead). */
  eightBit: boolean | null;
  /** The offset of the first 8-bit byte, when known. */
  eightBitOffset: number | null;
  /** The message bytes. */
  open(): AsyncIterable<Buffer | string>;
}

export function isReadable(value: unknown): value is Readable {
  return (
    value instanceof Readable ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as Readable).pipe === 'function' &&
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}


/**
 * Looks at a message before it is sent. `sevenBit` asks a token to re-encode
 * 8-bit bodies (the server has no 8BITMIME), `asciiHeaders` to write its
 * header 7-bit (the server has no SMTPUTF8), and `changes` edits a token's
 * transmitted copy; other sources are taken as they are.
 */
export async function prepareMessage(source: MessageSource, options: { sevenBit: boolean; asciiHeaders?: boolean; changes?: MessageChanges }): Promise<PreparedMessage> {
  if (typeof source === 'string' || Buffer.isBuffer(source)) {
    const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
    const offset = firstEightBitOffset(bytes);
    return {
      size: normalizedLength(bytes),
      eightBit: offset >= 0,
      eightBitOffset: offset >= 0 ? offset : null,
      open: () => oneChunk(bytes),
    };
  }
  if (isToken(source)) {
    // asciiHeaders (no SMTPUTF8): a token's header goes out 7-bit, its address domains as A-labels.
    const opts = { ...options.changes, sevenBit: options.sevenBit, asciiHeaders: options.asciiHeaders === true };
    // A token whose files alone pass the limit is not read to find that out (one stat per file instead).
    const small = (await fileBodyBytes(source)) > SMALL_MESSAGE ? null : await serializeSmall(source, opts);
    if (small) {
      return {
        size: small.length + 2,
        eightBit: options.sevenBit ? false : firstEightBitOffset(small) >= 0,
        eightBitOffset: null,
        open: () => oneChunk(small),
      };
    }
    // Re-encoded to 7 bits, a token has no 8-bit octet left; hasEightBit reports the output without that step.
    // The two passes run together, so that their waits for the file system overlap.
    const [eightBit, size] = await Promise.all([options.sevenBit ? false : hasEightBit(source, opts), messageSize(source, opts)]);
    return {
      // The mime output may end without a line end, and the codec then adds CRLF: count it, so SIZE never under-states.
      size: size + 2,
      eightBit,
      eightBitOffset: null,
      // The bytes as the mime module yields them, without a Readable around them: base64 output reaches the codec as vouched lines.
      open: () => messageChunks(source, opts),
    };
  }
  if (isReadable(source)) {
    return { size: null, eightBit: null, eightBitOffset: null, open: () => source };
  }
  throw new InvalidInputError('message', 'expected a string, a Buffer, a readable stream or a mime token');
}

// Slices keep the socket's buffer small and let backpressure work for a large message held in memory.
const SLICE = 64 * 1024;

/** A token whose bytes come to at most this is serialized once, before MAIL, and sent from memory. */
const SMALL_MESSAGE = 64 * 1024;

/**
 * The bytes of a small token, read once: then its size and 8-bit test come from
 * the bytes instead of two more passes over its plan (most of a short message's
 * cost). Null for a larger token, which is streamed as before; also null when
 * reading fails, so that the streaming path reports the failure as it always has.
 */
async function serializeSmall(token: Token, opts: MessageStreamOptions): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of messageChunks(token, opts)) {
      length += chunk.length;
      // Leaving the loop destroys the stream, which closes a file body it was reading.
      if (length > SMALL_MESSAGE) return null;
      chunks.push(chunk);
    }
  } catch {
    return null;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
}

/**
 * A message being prepared ahead, while the connection for it opens: for a
 * server with 8BITMIME (as good as every server now), so the session takes it
 * only for that very source when it would not re-encode. The work starts on
 * the next turn of the event loop, after the connect is under way, so that it
 * overlaps the server's accept and greeting instead of delaying them. A failure
 * is left for the session's own preparation to report. @internal
 */
export interface PreparedAhead {
  source: MessageSource;
  prepared: Promise<PreparedMessage | null>;
}

export function prepareAhead(source: MessageSource, changes: MessageChanges): PreparedAhead {
  const prepared = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => prepareMessage(source, { sevenBit: false, changes }))
    .catch(() => null);
  return { source, prepared };
}

async function* oneChunk(bytes: Buffer): AsyncIterable<Buffer> {
  for (let start = 0; start < bytes.length; start += SLICE) yield bytes.subarray(start, start + SLICE);
}

/**
 * True when the header block (up to the first empty line) holds an octet above
 * 0x7F: UTF-8 header fields (RFC 6532), which need SMTPUTF8 on the way.
 */
export function headerHasEightBit(message: string | Buffer): boolean {
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const offset = firstEightBitOffset(bytes);
  if (offset < 0) return false;
  // A complete empty line before the first 8-bit octet ends the header there: the octet is in the body.
  const lines = bytes.subarray(0, offset).toString('latin1').split(/\r\n|\r|\n/);
  return !lines.slice(0, -1).includes('');
}

/**
 * The message with a DKIM-Signature field in front: read once to sign it (the
 * body hashed as it streams by), then again, after the field, to send it.
 */
export async function signedMessage(prepared: PreparedMessage, signer: DkimSigner): Promise<PreparedMessage> {
  const { field } = await signer.sign(prepared.open());
  const head = Buffer.from(field, 'latin1');
  return {
    ...prepared,
    size: prepared.size === null ? null : prepared.size + head.length,
    eightBitOffset: prepared.eightBitOffset === null ? null : prepared.eightBitOffset + head.length,
    async *open() {
      yield head;
      yield* prepared.open();
    },
  };
}
