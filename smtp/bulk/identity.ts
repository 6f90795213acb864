/**
 * What a campaign item is, as bytes that do not change from run to run: its
 * digest covers the envelope sender, the one recipient, the template's bytes
 * and the row's values, canonically. It leaves out the rendered message,
 * whose boundaries, Date and Message-ID change on every render.
 *
 * Both ledgers (the file journal and Redis) store the id and the digest of
 * every item, so a resume with an edited list is caught before anything is
 * sent: a known id with another digest is a changed item.
 */
import { createHash, hash } from 'node:crypto';

/** The longest id made from a digest: it must fit a VERP local part with room for a prefix. */
export const SHORT_ID_LENGTH = 16;

/** What an item's digest covers. */
export interface ItemMeaning {
  /** Envelope sender (MAIL FROM), `''` for the null sender. */
  sender: string;
  /** The one envelope recipient. */
  recipient: string;
  /** {@link templateDigest} of the template and its attachments. */
  template: string;
  /** The row's values by field name (order does not matter). */
  values: Readonly<Record<string, string>>;
}

/** Each chunk with a length prefix, so that no two different lists of chunks hash alike. */
function framed(chunk: string): string {
  return `${Buffer.byteLength(chunk, 'utf8')}:${chunk}`;
}

function sha256(...chunks: Array<string | Uint8Array>): ReturnType<typeof createHash> {
  const hash = createHash('sha256');
  for (const chunk of chunks) {
    if (typeof chunk === 'string') hash.update(framed(chunk), 'utf8');
    else {
      hash.update(`${chunk.length}:`);
      hash.update(chunk);
    }
  }
  return hash;
}

/** Digest of a template: its own bytes, then each attachment's name and bytes, in order. */
export function templateDigest(template: Uint8Array, attachments: ReadonlyArray<{ name: string; bytes: Uint8Array }> = []): string {
  const chunks: Array<string | Uint8Array> = [template];
  for (const a of attachments) chunks.push(a.name, a.bytes);
  return sha256(...chunks).digest('hex');
}

/** The canonical digest of an item (hex SHA-256): field names sorted, every string length-prefixed. */
export function itemDigest(meaning: ItemMeaning): string {
  const names = Object.keys(meaning.values).sort();
  // The framed chunks as one text, hashed at once: the same bytes as hashing them one by one, at a fraction of the calls.
  let text = framed(meaning.sender) + framed(meaning.recipient.toLowerCase()) + framed(meaning.template) + framed(String(names.length));
  for (const name of names) text += framed(name) + framed(meaning.values[name]);
  return hash('sha256', text, 'hex');
}

/**
 * The id of an item that the list does not name: the first 16 characters of
 * a digest of the row alone (recipient and values, not the template), in
 * lower-case base32, so it is safe in a file name, a Redis key and a VERP
 * local part. Identical rows get the same id and are one item.
 */
export function rowId(recipient: string, values: Readonly<Record<string, string>>): string {
  const names = Object.keys(values).sort();
  let text = framed(recipient.toLowerCase()) + framed(String(names.length));
  for (const name of names) text += framed(name) + framed(values[name]);
  return base32(hash('sha256', text, 'buffer')).slice(0, SHORT_ID_LENGTH);
}

/** Digest of a whole list: every item's id and digest, in list order, fed one by one. */
export class ListDigest {
  private readonly hash = createHash('sha256');
  private count = 0;

  add(id: string, digest: string): void {
    this.hash.update(`${id.length}:${id}${digest}\n`);
    this.count++;
  }

  /** How many items were added. */
  get size(): number {
    return this.count;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
