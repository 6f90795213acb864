/**
 * The digest of a message handed to `smtp.sendmany` without one: what the
 * item means, canonically, so that the same item gives the same digest in the
 * next run and an edited one does not. It covers the envelope (sender and
 * recipients, lower-cased and sorted) and the message: each part's content
 * type and parameters, its header fields and its decoded body, parts in
 * order. It leaves out what changes on every build of the same message: the
 * Date, Message-ID and Content-ID fields (the mime layer makes a Content-ID
 * for every part it builds), the multipart boundary, MIME-Version and the
 * transfer encoding (the decoded body is what counts).
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { getbody, getheader, getproperty } from '../../mime';
import type { Token } from '../../mime';

const LEFT_OUT = new Set(['date', 'message-id', 'content-id', 'mime-version', 'content-transfer-encoding', 'content-type']);

function feed(hash: Hash, chunk: string | Uint8Array): void {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  hash.update(`${bytes.length}:`);
  hash.update(bytes);
}

function feedPart(hash: Hash, token: Token, extra: ReadonlyArray<readonly [string, string]>): void {
  feed(hash, getproperty(token, 'content').toLowerCase());
  const params = Object.entries(getproperty(token, 'params'))
    .filter(([name]) => name.toLowerCase() !== 'boundary')
    .map(([name, value]) => [name.toLowerCase(), String(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  feed(hash, String(params.length));
  for (const [name, value] of params) {
    feed(hash, name);
    feed(hash, value);
  }
  const fields: Array<[string, string]> = [];
  for (const [name, values] of Object.entries(getheader(token))) {
    if (LEFT_OUT.has(name.toLowerCase())) continue;
    for (const value of values) fields.push([name.toLowerCase(), value]);
  }
  for (const [name, value] of extra) if (!LEFT_OUT.has(name.toLowerCase())) fields.push([name.toLowerCase(), value]);
  feed(hash, String(fields.length));
  for (const [name, value] of fields) {
    feed(hash, name);
    feed(hash, value);
  }
  const content = getproperty(token, 'content').toLowerCase();
  if (content.startsWith('multipart/') || content.startsWith('message/')) {
    const parts = getproperty(token, 'parts');
    feed(hash, `parts:${parts.length}`);
    for (const part of parts) feedPart(hash, part, []);
    return;
  }
  const body = getbody(token, { decode: true });
  feed(hash, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

/**
 * The digest (hex SHA-256) of a message to `recipients` from `sender`, with
 * the `header` option's fields as if they were the message's own.
 */
export function messageDigest(token: Token, envelope: { sender: string; recipients: readonly string[] }, header: ReadonlyArray<readonly [string, string]> = []): string {
  const hash = createHash('sha256');
  feed(hash, envelope.sender.toLowerCase());
  const recipients = envelope.recipients.map((r) => r.toLowerCase()).sort();
  feed(hash, String(recipients.length));
  for (const r of recipients) feed(hash, r);
  feedPart(hash, token, header);
  return hash.digest('hex');
}
