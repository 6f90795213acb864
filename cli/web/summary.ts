/**
 * One line of the inbox: what the list shows about a message, read from its
 * header block alone so that ten thousand files index in well under a second
 * at start. The full parse (tree, bodies, attachments) waits until someone
 * opens the message.
 */
import { createHash } from 'node:crypto';
import * as mime from '../../mime';
import type { Envelope } from './envelopes';

/** What `GET /api/messages` gives for each message. */
export interface Summary {
  /** 16 hex digits: a digest of the file's name, stable across restarts. */
  id: string;
  /** The header From, decoded. */
  from: string;
  /** The header To, decoded. */
  to: string;
  subject: string;
  /** The Date header as ISO 8601, or when the file was stored when the header is missing or unreadable. */
  date: string;
  size: number;
  /** How many parts are marked as attachments. */
  attachments: number;
  /** The envelope, when it was recorded (captured with --web). */
  mailFrom?: string;
  rcptTo?: string[];
  /** When the server stored it (epoch ms): the list's order. */
  received: number;
}

/** The id of a stored file: a digest of its name (file names carry host names and escapes; ids stay plain). */
export function idOf(file: string): string {
  return createHash('sha256').update(file).digest('hex').slice(0, 16);
}

/** Valid ids only: checked before any lookup so a path parameter never reaches the file system. */
export const ID_PATTERN = /^[0-9a-f]{16}$/;

// The header block ends at the first empty line; lines end in CRLF or LF.
const HEADER_END = /\r?\n\r?\n/;
const WANTED = new Set(['from', 'to', 'subject', 'date']);
const ATTACHMENT = /^content-disposition:[ \t]*attachment/gim;

/** The fields the list needs, unfolded and decoded. */
function headerFields(text: string): Map<string, string> {
  const end = text.search(HEADER_END);
  const block = end < 0 ? text : text.slice(0, end);
  const fields = new Map<string, string>();
  for (const field of block.split(/\r?\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    if (!WANTED.has(name) || fields.has(name)) continue;
    const unfolded = field.slice(colon + 1).replace(/\r?\n[ \t]*/g, ' ').trim();
    // Raw 8-bit header bytes are taken as UTF-8 (RFC 6532); encoded words are ASCII and decode after.
    const value = /[\x80-\xff]/.test(unfolded) ? Buffer.from(unfolded, 'latin1').toString('utf8') : unfolded;
    let decoded = value;
    try {
      decoded = mime.field_decode(value);
    } catch {
      // shown as it stands
    }
    fields.set(name, decoded);
  }
  return fields;
}

/** The summary of a stored message from its bytes. */
export function summarize(file: string, bytes: Buffer, received: number, envelope?: Envelope): Summary {
  // latin1 keeps every byte one character: header parsing and the attachment count need no charset.
  const text = bytes.toString('latin1');
  const fields = headerFields(text);
  const decoded = (name: string): string => fields.get(name) ?? '';
  const dateHeader = Date.parse(fields.get('date') ?? '');
  return {
    id: idOf(file),
    from: decoded('from'),
    to: decoded('to'),
    subject: decoded('subject'),
    date: new Date(Number.isNaN(dateHeader) ? received : dateHeader).toISOString(),
    size: bytes.length,
    attachments: (text.match(ATTACHMENT) ?? []).length,
    ...(envelope ? { mailFrom: envelope.from, rcptTo: envelope.to } : {}),
    received,
  };
}

/** What a search looks in: the summary's addresses and subject, lower case. */
export function searchKeys(summary: Summary): string[] {
  return [summary.from, summary.to, summary.subject, summary.mailFrom ?? '', ...(summary.rcptTo ?? [])].map((value) => value.toLowerCase());
}
