/**
 * The rows of a `tclmail bulk` list as items: each valid row is one message
 * to one recipient, with an id (the `id` column, else a short digest of the
 * row) and a digest of what it means (sender, recipient, template, values).
 * A row is invalid when its address field is not exactly one mailbox, a value
 * the template uses is missing or empty (without --allow-empty), or a value
 * put into a header holds a line break; a row with the id of an earlier row
 * and the same values is a duplicate (one item), with other values invalid.
 *
 * The list is read as a stream, once to validate and once more per later
 * pass; what is kept between passes is a compact table of id hashes
 * (id-table.ts), about 11 bytes a row (16 with an id column), or nothing
 * when another store finds repeated ids (the fleet's check read in Redis).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { idHash, digestKey, IdTable } from '../smtp/bulk/id-table';
import { itemDigest, ListDigest, rowId, templateDigest } from '../smtp/bulk/identity';
import { DomainTally } from '../smtp/bulk/domains';
import type { DomainPlan } from '../smtp/bulk/domains';
import { UsageError } from './args';
import { addressField, oneMailbox, readRows } from './recipients';
import type { Row } from './recipients';
import type { Template, TemplatePart } from './template';

/** Marks an id as seen in the current pass. */
const SEEN = 1;

/** How many invalid rows a refusal names. */
export const ROWS_SHOWN = 20;

/** What the list is checked against. */
export interface ListContext {
  path: string;
  template: Template;
  /** The template file's path (its bytes are part of every digest). */
  templatePath: string;
  /** The envelope sender: --originator, else the template's From as written. */
  sender: string;
  allowEmpty: boolean;
  /**
   * Keep the table of ids seen and digest each row (default true): repeated
   * ids are then found here. The fleet's enqueue passes false: Redis finds
   * them and the fleet digests each item itself, so the enqueuing process
   * keeps nothing per row (verdicts then carry an empty digest).
   */
  trackIds?: boolean;
}

/** One row judged. */
export type Verdict =
  | { kind: 'valid'; row: Row; id: string; address: string; digest: string }
  | { kind: 'duplicate'; row: Row; id: string; address: string; digest: string }
  | { kind: 'invalid'; row: Row; id: string; address: string; digest: string; reason: string };

/** What the validation pass found. */
export interface Validation {
  rows: number;
  valid: number;
  duplicates: number;
  invalid: number;
  /** The first {@link ROWS_SHOWN} invalid rows, as messages naming them. */
  firstInvalid: string[];
  /** Items: valid ones and invalid rows. */
  total: number;
  listDigest: string;
  /** The items by recipient domain (bounded: smtp/bulk/domains.ts); only when ids are tracked here. */
  domains?: DomainPlan;
}

function headerFields(part: TemplatePart, into: Set<string>): void {
  for (const [, value] of part.headers) for (const m of value.matchAll(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g)) into.add(m[1]);
  if (part.body.kind === 'parts') for (const child of part.body.parts) headerFields(child, into);
}

function attachments(part: TemplatePart, into: Array<{ name: string; bytes: Uint8Array }>): void {
  if (part.body.kind === 'bytes') into.push({ name: `${part.content};${part.params.map((p) => p.join('=')).join(';')}`, bytes: part.body.data });
  if (part.body.kind === 'parts') for (const child of part.body.parts) attachments(child, into);
}

/** The sender the digest names: the template's From as written (placeholders and all) when no --originator. */
export function templateSender(template: Template): string {
  return template.root.headers.find(([name]) => name.toLowerCase() === 'from')?.[1] ?? '';
}

/** How many rows the list holds, from its size and the length of its lines at the start and the end: sizes the id table. */
function estimateRows(path: string): number {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const window = Math.min(size, 1 << 16);
    const sample = Buffer.alloc(window);
    let bytes = 0;
    let lines = 0;
    for (const position of size > 2 * window ? [0, size - window] : [0]) {
      const n = readSync(fd, sample, 0, window, position);
      bytes += n;
      for (let i = 0; i < n; i++) if (sample[i] === 0x0a) lines++;
    }
    return lines > 1 ? (size / bytes) * lines : size / 50;
  } finally {
    closeSync(fd);
  }
}

/** Safe, unique file names for dry-run previews: an id that is already a plain lower-case name keeps it; any other gets `~` and a hash of the id. */
export function previewName(id: string): string {
  if (/^[a-z0-9][a-z0-9._-]{0,99}$/.test(id) && !id.endsWith('.')) return `${id}.eml`;
  const safe = id.toLowerCase().replace(/[^a-z0-9._-]/g, '_').replace(/^[._-]+/, '').slice(0, 60);
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16);
  return `${safe}~${hash}.eml`;
}

/** Why a row that reuses the id of an earlier row with other values is invalid. */
export function repeatedIdReason(id: string): string {
  return `repeats the id ${JSON.stringify(id)} of an earlier row with other values`;
}

/** A validation with nothing counted yet. */
export function emptyValidation(): Validation {
  return { rows: 0, valid: 0, duplicates: 0, invalid: 0, firstInvalid: [], total: 0, listDigest: '' };
}

/** Counts an invalid row, naming it while fewer than {@link ROWS_SHOWN} are named. */
export function countInvalid(into: Validation, row: Row, id: string, reason: string): void {
  into.invalid++;
  if (into.firstInvalid.length < ROWS_SHOWN) into.firstInvalid.push(`row ${row.row} (line ${row.line}, id ${id}): ${reason}`);
}

/** Judges the rows of one list; the first pass fills the table the later passes read. */
export class ListChecker {
  private readonly table: IdTable | null;
  private readonly template: string;
  private readonly inHeaders = new Set<string>();
  private filled = false;
  /** The list names its ids in an `id` column. */
  private readonly byColumn: boolean;

  constructor(private readonly context: ListContext) {
    // Without an id column an id is a digest of the row, so one id is one content: no digest key needed.
    const rows = readRows(context.path);
    const first = rows.next();
    // Closes the file now, not when the collector finds the half-read generator.
    rows.return(undefined);
    this.byColumn = !first.done && first.value.fields.id !== undefined;
    this.table = context.trackIds === false ? null : new IdTable({ digest: this.byColumn, flags: true }, estimateRows(context.path));
    const files: Array<{ name: string; bytes: Uint8Array }> = [];
    attachments(context.template.root, files);
    this.template = templateDigest(readFileSync(context.templatePath), files);
    headerFields(context.template.root, this.inHeaders);
  }

  /** Bytes held by the id table. */
  get bytes(): number {
    return this.table?.bytes ?? 0;
  }

  private judge(row: Row): { id: string; address: string; digest: string; reason?: string } {
    const fields = row.fields;
    const mailbox = oneMailbox(addressField(fields));
    const address = 'address' in mailbox ? mailbox.address : (addressField(fields) ?? '').trim();
    const given = fields.id;
    const id = given === undefined ? rowId(address, fields) : given.trim();
    // Invalid rows get a digest too: a --skip-invalid run records them, and a later fix is told from them.
    const digest = this.table === null ? '' : itemDigest({ sender: this.context.sender, recipient: address, template: this.template, values: fields });
    const result = { id: id === '' ? `row-${row.row}` : id, address, digest };
    if (id === '') return { ...result, reason: 'an empty id' };
    if ('reason' in mailbox) return { ...result, reason: mailbox.reason };
    for (const name of this.context.template.fields) {
      const value = fields[name];
      if (value === undefined) return { ...result, reason: `no field ${JSON.stringify(name)}, which the template uses as {{${name}}}` };
      if (value.trim() === '' && !this.context.allowEmpty) return { ...result, reason: `an empty ${JSON.stringify(name)}, which the template uses as {{${name}}} (--allow-empty to send it)` };
      if (this.inHeaders.has(name) && /[\r\n]/.test(value)) return { ...result, reason: `the ${JSON.stringify(name)} value holds a line break, and the template puts it in a header` };
    }
    return result;
  }

  /** Judges one row; the first pass records its id, every pass marks it seen. */
  verdict(row: Row): Verdict {
    const judged = this.judge(row);
    const digest = judged.digest;
    if (judged.reason !== undefined) return { kind: 'invalid', row, id: judged.id, address: judged.address, digest, reason: judged.reason };
    if (this.table === null) return { kind: 'valid', row, id: judged.id, address: judged.address, digest };
    const [h1, h2] = idHash(judged.id);
    const entry = this.filled ? this.table.find(h1, h2) : this.table.insert(h1, h2).entry;
    if (this.table.flags(entry) & SEEN) {
      if (!this.byColumn || this.table.digest(entry) === digestKey(digest)) return { kind: 'duplicate', row, id: judged.id, address: judged.address, digest };
      return { kind: 'invalid', row, id: judged.id, address: judged.address, digest, reason: repeatedIdReason(judged.id) };
    }
    this.table.setFlags(entry, SEEN);
    if (this.byColumn) this.table.setDigest(entry, digestKey(digest));
    return { kind: 'valid', row, id: judged.id, address: judged.address, digest };
  }

  /** Every row judged, in list order. */
  *rows(): Generator<Verdict> {
    if (this.filled) this.table?.clearFlags();
    for (const row of readRows(this.context.path)) yield this.verdict(row);
  }

  /**
   * The validation pass: every row judged, ids recorded, the list digest made.
   * A template field that the list has no column for at all is a usage error.
   */
  validate(): Validation {
    const validation = emptyValidation();
    for (const verdict of this.validating(validation)) void verdict;
    return validation;
  }

  /**
   * The validation pass as a stream of verdicts, for a caller that does its
   * own work on the same read (the fleet's check read): `into` is complete
   * when the generator ends.
   */
  *validating(into: Validation): Generator<Verdict> {
    const digest = new ListDigest();
    // Counted only where this process keeps state per list anyway (not in the fleet's constant-memory check read).
    const domains = this.table === null ? null : new DomainTally();
    for (const verdict of this.rows()) {
      into.rows++;
      if (into.rows === 1) {
        const missing = [...this.context.template.fields].filter((name) => verdict.row.fields[name] === undefined);
        if (missing.length > 0 && (verdict.kind !== 'invalid' || verdict.reason.startsWith('no field'))) {
          throw new UsageError(`${this.context.path}: row 1 (line ${verdict.row.line}) has no field ${JSON.stringify(missing[0])}, which the template uses as {{${missing[0]}}}`);
        }
      }
      if (verdict.kind === 'valid') {
        into.valid++;
        if (this.table !== null) digest.add(verdict.id, verdict.digest);
      } else if (verdict.kind === 'duplicate') into.duplicates++;
      else countInvalid(into, verdict.row, verdict.id, verdict.reason);
      if (verdict.kind !== 'duplicate') domains?.add(verdict.address);
      yield verdict;
    }
    this.filled = true;
    if (into.rows === 0) throw new UsageError(`${this.context.path}: no recipients`);
    into.total = into.valid + into.invalid;
    into.listDigest = this.table === null ? '' : digest.digest();
    if (domains) into.domains = domains.plan();
  }
}
