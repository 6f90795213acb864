/**
 * The recipient list of `tclmail bulk`: CSV with a header row, or JSON Lines
 * (one object per line). Each row gives the recipient (`email`, else `to`),
 * an id for the journal (`id`, else the row number) and the fields the
 * template's placeholders take. Every problem is a usage error that names the
 * row, found before anything is sent.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { UsageError } from './args';
import { CsvSyntaxError, parseCsv } from './csv';

export interface Recipient {
  /** 1 for the first data row. */
  row: number;
  /** The line of the file the row starts on. */
  line: number;
  /** The journal id: the `id` field, else the row number. */
  id: string;
  /** The envelope recipient. */
  email: string;
  /** Every field of the row by its column name. */
  fields: Record<string, string>;
}

export type ListFormat = 'csv' | 'jsonl';

/** The format from the file name, else from the first character (`{` is JSON Lines). */
export function listFormat(path: string, text: string): ListFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return text.replace(/^\uFEFF/, '').trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

function csvRows(path: string, text: string): Array<{ line: number; fields: Record<string, string> }> {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
  const [head, ...rest] = records;
  if (head === undefined) throw new UsageError(`${path}: empty; the first line must name the columns`);
  const names = head.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (name === '') throw new UsageError(`${path}: line ${head.line}: a column without a name`);
    if (seen.has(name)) throw new UsageError(`${path}: line ${head.line}: the column ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  return rest.map((record, index) => {
    if (record.fields.length !== names.length) {
      throw new UsageError(`${path}: row ${index + 1} (line ${record.line}) has ${record.fields.length} fields; the header has ${names.length}`);
    }
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    names.forEach((name, column) => (fields[name] = record.fields[column]));
    return { line: record.line, fields };
  });
}

function jsonRows(path: string, text: string): Array<{ line: number; fields: Record<string, string> }> {
  const rows: Array<{ line: number; fields: Record<string, string> }> = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new UsageError(`${path}: line ${line}: not JSON: ${(error as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${path}: line ${line}: expected a JSON object`);
    const fields: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, field] of Object.entries(value)) {
      if (field === null) continue;
      if (typeof field === 'object') throw new UsageError(`${path}: line ${line}: the field ${JSON.stringify(name)} must be a string, number or boolean`);
      fields[name] = String(field);
    }
    rows.push({ line, fields });
  });
  return rows;
}

/** Reads and checks the list: a recipient on every row, ids unique. */
export function readRecipients(path: string): Recipient[] {
  const text = readFileSync(path, 'utf8');
  const rows = listFormat(path, text) === 'csv' ? csvRows(path, text) : jsonRows(path, text);
  if (rows.length === 0) throw new UsageError(`${path}: no recipients`);
  const ids = new Map<string, number>();
  return rows.map(({ line, fields }, index) => {
    const row = index + 1;
    const email = (fields.email ?? fields.to ?? '').trim();
    if (email === '') throw new UsageError(`${path}: row ${row} (line ${line}) has no recipient: give an "email" (or "to") field`);
    const given = fields.id?.trim();
    const id = given === undefined || given === '' ? String(row) : given;
    const earlier = ids.get(id);
    if (earlier !== undefined) throw new UsageError(`${path}: row ${row} (line ${line}) repeats the id ${JSON.stringify(id)} of row ${earlier}`);
    ids.set(id, row);
    return { row, line, id, email, fields };
  });
}
