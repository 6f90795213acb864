/**
 * One-click unsubscribe (RFC 2369 List-Unsubscribe, RFC 8058
 * List-Unsubscribe-Post): the header fields for one item, and the check of
 * the token a receiver gets back. The token carries the item id and the
 * address with an HMAC-SHA256 over both under a secret, so that nobody can
 * unsubscribe an address by guessing ids.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidInputError, OptionError } from '../../lib/errors';

/** What unsubscribeHeaders needs. */
export interface UnsubscribeOptions {
  /** The receiver's URL (https; http only on a loopback host, for tests and local receivers). */
  url: string;
  /** The HMAC key: at least 16 bytes, kept by the sender and the receiver only. */
  secret: string | Buffer;
  /** The campaign item (or campaign) id. */
  id: string;
  /** The recipient address the token unsubscribes. */
  address: string;
}

/** The two fields RFC 8058 asks for. */
export interface UnsubscribeHeaders {
  'List-Unsubscribe': string;
  'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click';
}

const COMMAND = 'unsubscribeHeaders';
const MIN_SECRET = 16;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function key(secret: string | Buffer, command: string): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (!Buffer.isBuffer(bytes) || bytes.length < MIN_SECRET) {
    throw new OptionError(command, 'secret', `secret must be at least ${MIN_SECRET} bytes (a random value kept by sender and receiver), not ${Buffer.isBuffer(bytes) ? bytes.length : typeof secret}`);
  }
  return bytes;
}

function mac(secret: Buffer, id: string, address: string): Buffer {
  // Each value's length goes first, so that no two (id, address) pairs feed the same bytes.
  return createHmac('sha256', secret).update(`tclmail-unsubscribe\n${Buffer.byteLength(id)}:${id}\n${Buffer.byteLength(address)}:${address}`).digest();
}

function b64(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

/**
 * The token for one item and address: `ID.ADDRESS.MAC`, each part base64url.
 */
export function unsubscribeToken(secret: string | Buffer, id: string, address: string): string {
  const bytes = key(secret, 'unsubscribeToken');
  if (id === '' || address === '' || !address.includes('@')) {
    throw new InvalidInputError('unsubscribe token', 'an id and a mail address are both needed to make a token');
  }
  return `${b64(id)}.${b64(address)}.${b64(mac(bytes, id, address))}`;
}

/**
 * `List-Unsubscribe: <URL?t=TOKEN>` and `List-Unsubscribe-Post:
 * List-Unsubscribe=One-Click` for one item. Throws an OptionError for a URL
 * that is not https (http only on loopback) or a secret under 16 bytes.
 *
 * TypeScript: `unsubscribeHeaders({ url: 'https://example.org/u', secret, id: 'a1b2', address: 'ann@example.net' })`
 */
export function unsubscribeHeaders(options: UnsubscribeOptions): UnsubscribeHeaders {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new OptionError(COMMAND, 'url', `url must be an absolute https URL, not ${JSON.stringify(options.url)}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new OptionError(COMMAND, 'url', `RFC 8058 asks for an https URL; ${JSON.stringify(options.url)} is ${url.protocol} (http only on a loopback host)`);
  }
  url.searchParams.set('t', unsubscribeToken(options.secret, options.id, options.address));
  return { 'List-Unsubscribe': `<${url.toString()}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

/**
 * The item id and address a token names when its MAC is right under the
 * secret (compared in constant time), else null.
 */
export function verifyUnsubscribeToken(secret: string | Buffer, token: string): { id: string; address: string } | null {
  const bytes = key(secret, 'verifyUnsubscribeToken');
  if (typeof token !== 'string' || token.length > 2048) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return null;
  const id = Buffer.from(parts[0], 'base64url').toString('utf8');
  const address = Buffer.from(parts[1], 'base64url').toString('utf8');
  const given = Buffer.from(parts[2], 'base64url');
  const expected = mac(bytes, id, address);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return { id, address };
}
