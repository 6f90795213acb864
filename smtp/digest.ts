/**
 * The blind-copy digest of `bcc: 'digest'`: Tcllib's way of giving Bcc
 * recipients the message without showing them on it. The copy is a
 * multipart/digest whose one child is the message as transmitted
 * (message/rfc822), headed `Subject: [Bcc] <subject>` and described as a
 * "Blind Carbon Copy"; Tcllib 1.21's smtp::sendmessage sends it after the
 * main transaction, on the same connection. Unlike Tcllib's it has one
 * well-formed boundary and no empty `Bcc:` field.
 */
import { type Readable } from 'node:stream';
import { formatDate } from '../mime/codec/datetime';
import { uniqueID } from '../mime/build/uniqueid';
import * as mime from '../mime';
import type { Token } from '../mime';
import type { Envelope } from './envelope';

/** A digest token and how to release it (and the parsed copy inside it) after sending. */
export interface Digest {
  token: Token;
  release(): void;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/**
 * Builds the digest for `tok` as it is transmitted under `env` (added fields
 * in, Bcc and Dcc out). The transmitted copy is serialized and parsed back
 * into a token of its own, so the caller's part is never touched; that copy is
 * held in memory, which is why the default mode (`bcc: 'same'`) does not need
 * a digest at all.
 */
export async function buildDigest(tok: Token, env: Envelope): Promise<Digest> {
  const bytes = await collect(mime.createMessageStream(tok, { extraHeaders: env.addHeaders, omitHeaders: env.omitHeaders }));
  const original = mime.initialize({ string: bytes });
  const tokens: Token[] = [original];
  try {
    const inner = mime.initialize({
      canonical: 'message/rfc822',
      header: [['Content-Description', 'Original Message']],
      parts: [original],
    });
    tokens.unshift(inner);
    const label = env.resent ? '[Resent-Bcc]' : '[Bcc]';
    const outer = mime.initialize({
      canonical: 'multipart/digest',
      header: [
        ['From', env.originatorText],
        ['Date', formatDate()],
        ['Subject', env.subject === undefined ? label : `${label} ${env.subject}`],
        ['Message-ID', uniqueID()],
        ['Content-Description', 'Blind Carbon Copy'],
      ],
      parts: [inner],
    });
    tokens.unshift(outer);
    // The digest owns every part below it, so releasing it with 'all' releases the parsed copy too.
    return { token: outer, release: () => mime.finalize(outer, { subordinates: 'all' }) };
  } catch (error) {
    mime.finalize(tokens[0], { subordinates: 'all' });
    throw error;
  }
}
