/**
 * The envelope log: one JSON line per captured message in `DIR/envelopes.jsonl`,
 * written before the client gets its 250. The `.eml` cannot show the envelope
 * (Bcc recipients appear in RCPT TO only), and a line appended with one
 * `write` on an O_APPEND file is never interleaved with another, so the log
 * survives restarts and is read back whole at start.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CapturedMessage } from '../serve';

/** What the log records about one message. */
export interface Envelope {
  /** The `.eml` file's name in `DIR/new`. */
  file: string;
  /** MAIL FROM; `''` for the null sender. */
  from: string;
  /** Every accepted RCPT TO, in order. */
  to: string[];
  secure: boolean;
  user?: string;
  /** The EHLO/HELO name. */
  client: string;
  /** When the message was stored (ISO 8601). */
  at: string;
}

const ENVELOPE_LOG = 'envelopes.jsonl';

/** Appends the envelope of `message` to the log in `dir` and returns it. */
export function recordEnvelope(dir: string, message: CapturedMessage, when = new Date()): Envelope {
  const envelope: Envelope = {
    file: basename(message.path),
    from: message.from,
    to: message.to,
    secure: message.secure,
    ...(message.user !== undefined ? { user: message.user } : {}),
    client: message.client,
    at: when.toISOString(),
  };
  appendFileSync(join(dir, ENVELOPE_LOG), `${JSON.stringify(envelope)}\n`);
  return envelope;
}

/** Reads the log: file name to envelope. A torn last line (a crash mid-write) is skipped. */
export function readEnvelopes(dir: string): Map<string, Envelope> {
  const envelopes = new Map<string, Envelope>();
  let text: string;
  try {
    text = readFileSync(join(dir, ENVELOPE_LOG), 'utf8');
  } catch {
    return envelopes;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const value = JSON.parse(line) as Envelope;
      if (typeof value.file === 'string' && Array.isArray(value.to)) envelopes.set(value.file, value);
    } catch {
      // skipped: not a whole line
    }
  }
  return envelopes;
}
