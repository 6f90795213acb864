/**
 * The lines of a file journal, read and checked. The first line is the
 * manifest (campaign, list digest, total, creation time); every other line is
 * one step of one item, with its id, its digest and the time; an outcome also
 * carries the reply code (null when there was none). A line that does not
 * parse, or lacks a valid digest, is not trusted: the journal is refused with
 * an error naming the line. Only a torn tail (bytes after the last line end,
 * left by a crash in the middle of a write) is cut off, since it was never
 * fsynced and so never announced anything.
 *
 * The file is read in chunks, so opening a journal of millions of lines
 * holds one chunk at a time.
 */
import { readSync } from 'node:fs';
import type { Rejected } from '../../lib/errors';
import { JournalError } from '../../lib/errors';
import { isValidDigest, ITEM_STATES } from './ledger';
import type { CampaignManifest, ItemState } from './ledger';
import { domainPlanProblem } from './domains';
import type { DomainPlan } from './domains';

/** A journal line that is not trusted: `line` is its number (1 for the first). */
export class JournalLineError extends JournalError {
  readonly reason = 'damaged' as const;
  constructor(
    file: string,
    readonly line: number,
    why: string,
  ) {
    super(file, `line ${line} is not trusted: ${why}. The journal was changed by something other than tclmail; nothing was sent`);
    this.name = 'JournalLineError';
  }
}

/** One step of one item, as a line records it. */
export interface ItemLine {
  id: string;
  digest: string;
  state: ItemState;
  at: string;
  recipient?: string;
  code?: number | null;
  diagnostic?: string;
  rejected?: Rejected[];
  /** For `deferred`: when the item is due again (epoch milliseconds). */
  due?: number;
  /** For `sent`: the Message-ID the message went out with (bounces quote it). */
  messageId?: string;
}

export type JournalLine = { kind: 'manifest'; manifest: CampaignManifest } | { kind: 'item'; item: ItemLine };

const STATES = new Set<string>(ITEM_STATES.filter((s) => s !== 'pending'));
const OUTCOMES = new Set<string>(['sent', 'refused', 'failed']);

function isRejected(value: unknown): value is Rejected[] {
  return Array.isArray(value) && value.every((r) => Array.isArray(r) && r.length === 3 && typeof r[0] === 'string' && typeof r[1] === 'number' && typeof r[2] === 'string');
}

/** Checks one line; a string says what is wrong with it. */
export function parseJournalLine(text: string): JournalLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (typeof v.at !== 'string' || Number.isNaN(Date.parse(v.at))) return 'no time ("at")';
  if (v.type === 'manifest') {
    if (typeof v.campaign !== 'string' || v.campaign === '') return 'a manifest without a campaign';
    if (typeof v.listDigest !== 'string' || (v.listDigest !== '' && !isValidDigest(v.listDigest))) return 'a manifest without a valid list digest';
    if (typeof v.total !== 'number' || !Number.isInteger(v.total) || v.total < 0) return 'a manifest without a total';
    if (typeof v.createdAt !== 'string') return 'a manifest without createdAt';
    const domains = v.domains === undefined ? undefined : domainPlanProblem(v.domains);
    if (domains !== undefined) return `a manifest whose ${domains}`;
    const manifest = { campaign: v.campaign, listDigest: v.listDigest, total: v.total, createdAt: v.createdAt };
    return { kind: 'manifest', manifest: v.domains === undefined ? manifest : { ...manifest, domains: v.domains as DomainPlan } };
  }
  if (typeof v.id !== 'string' || v.id === '') return 'no id';
  if (!isValidDigest(v.digest)) return `no valid digest for the id ${JSON.stringify(v.id)}`;
  if (typeof v.state !== 'string' || !STATES.has(v.state)) return `an unknown state ${JSON.stringify(v.state)}`;
  if (OUTCOMES.has(v.state) && !('code' in v)) return 'an outcome without its reply code';
  if (v.code !== undefined && v.code !== null && (typeof v.code !== 'number' || !Number.isInteger(v.code))) return 'a reply code that is not a number';
  if (v.rejected !== undefined && !isRejected(v.rejected)) return 'a malformed list of refused recipients';
  const item: ItemLine = { id: v.id, digest: v.digest, state: v.state as ItemState, at: v.at };
  if (typeof v.recipient === 'string') item.recipient = v.recipient;
  if (v.code !== undefined) item.code = v.code;
  if (typeof v.diagnostic === 'string') item.diagnostic = v.diagnostic;
  if (v.rejected !== undefined) item.rejected = v.rejected;
  if (typeof v.due === 'number') item.due = v.due;
  if (typeof v.messageId === 'string') item.messageId = v.messageId;
  return { kind: 'item', item };
}

/** The text of an item line (without its line end). */
export function formatItemLine(item: ItemLine): string {
  const record: Record<string, unknown> = { id: item.id, digest: item.digest, state: item.state, at: item.at };
  if (item.recipient !== undefined) record.recipient = item.recipient;
  if (item.code !== undefined) record.code = item.code;
  if (item.diagnostic !== undefined && item.diagnostic !== '') record.diagnostic = item.diagnostic;
  if (item.rejected !== undefined && item.rejected.length > 0) record.rejected = item.rejected;
  if (item.due !== undefined) record.due = item.due;
  if (item.messageId !== undefined) record.messageId = item.messageId;
  return JSON.stringify(record);
}

/** The text of a manifest line. */
export function formatManifestLine(manifest: CampaignManifest): string {
  return JSON.stringify({ type: 'manifest', ...manifest, at: new Date().toISOString() });
}

const CHUNK = 1 << 20;

/**
 * Every whole line of the open file `fd` from byte `from`, with its byte
 * offset. A tail without a line end (torn) is not yielded; the generator
 * returns where the whole lines end.
 */
export function* linesOf(fd: number, from = 0): Generator<{ offset: number; text: string }, number> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer | null = null;
  let position = from;
  let wholeEnd = from;
  for (;;) {
    const read = readSync(fd, buffer, 0, CHUNK, position);
    if (read === 0) break;
    let data = buffer.subarray(0, read);
    let base = position;
    if (carry !== null) {
      data = Buffer.concat([carry, data]);
      base = position - carry.length;
      carry = null;
    }
    position += read;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(0x0a, start);
      if (newline < 0) break;
      const text = data.toString('utf8', start, newline);
      const offset = base + start;
      start = newline + 1;
      wholeEnd = base + start;
      yield { offset, text };
    }
    if (start < data.length) carry = Buffer.from(data.subarray(start));
  }
  return wholeEnd;
}

/** The line that starts at `offset` (re-read to verify or detail an entry of the index). */
export function readLineAt(fd: number, offset: number): string {
  const parts: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(4096);
  let position = offset;
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, position);
    if (read === 0) break;
    const newline = buffer.subarray(0, read).indexOf(0x0a);
    if (newline >= 0) {
      parts.push(Buffer.from(buffer.subarray(0, newline)));
      break;
    }
    parts.push(Buffer.from(buffer.subarray(0, read)));
    position += read;
  }
  return Buffer.concat(parts).toString('utf8');
}
