/**
 * The recipient list of `tclmail bulk`, read as a stream: CSV with a header
 * row, or JSON Lines (one object per line). Rows come one at a time, so a
 * list of millions of rows is read in constant memory, as often as the run
 * needs (a validation pass, then a sending pass). A list that cannot be read
 * at all (bad CSV, a line that is not JSON, a row with the wrong number of
 * fields) is a usage error naming the line; what is wrong with one row's
 * values is judged by the caller (see bulk-list.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseAddressList } from '../lib/address';
import { UsageError } from './args';
import { CsvReader, CsvSyntaxError } from './csv';

/** One row of the list. */
export interface Row {
  /** 1 for the first data row. */
  row: number;
  /** The line of the file the row starts on. */
  line: number;
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

// Small enough that the rows of one piece do not outlive V8's young generation.
const CHUNK = 1 << 16;

/** The file's text, a chunk at a time (UTF-8 sequences kept whole across chunks). */
function* chunks(path: string): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new UsageError(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    const decoder = new StringDecoder('utf8');
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      yield decoder.write(buffer.subarray(0, n));
    }
    const rest = decoder.end();
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}

function* csvRows(path: string, source: Iterable<string>): Generator<Row> {
  const reader = new CsvReader();
  let names: string[] | null = null;
  let row = 0;
  const take = function* (records: ReturnType<CsvReader['push']>): Generator<Row> {
    for (const record of records) {
      if (names === null) {
        names = record.fields.map((name) => name.trim());
        const seen = new Set<string>();
        for (const name of names) {
          if (name === '') throw new UsageError(`${path}: line ${record.line}: a column without a name`);
          if (seen.has(name)) throw new UsageError(`${path}: line ${record.line}: the column ${JSON.stringify(name)} appears twice`);
          seen.add(name);
        }
        continue;
      }
      row++;
      if (record.fields.length !== names.length) {
        throw new UsageError(`${path}: row ${row} (line ${record.line}) has ${record.fields.length} fields; the header has ${names.length}`);
      }
      const fields: Record<string, string> = Object.create(null) as Record<string, string>;
      names.forEach((name, column) => (fields[name] = record.fields[column]));
      yield { row, line: record.line, fields };
    }
  };
  try {
    for (const text of source) yield* take(reader.push(text));
    yield* take(reader.end());
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
  if (names === null) throw new UsageError(`${path}: empty; the first line must name the columns`);
}

function* jsonRows(path: string, source: Iterable<string>): Generator<Row> {
  let carry = '';
  let line = 0;
  let row = 0;
  let first = true;
  const parse = (raw: string): Row | null => {
    line++;
    if (raw.trim() === '') return null;
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
    row++;
    return { row, line, fields };
  };
  for (let text of source) {
    if (first) {
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    carry += text;
    let start = 0;
    for (;;) {
      const newline = carry.indexOf('\n', start);
      if (newline < 0) break;
      const parsed = parse(carry.slice(start, newline));
      start = newline + 1;
      if (parsed) yield parsed;
    }
    carry = carry.slice(start);
  }
  if (carry !== '') {
    const parsed = parse(carry);
    if (parsed) yield parsed;
  }
}

/** The rows of the list, one at a time. Each call reads the file again from the start. */
export function* readRows(path: string): Generator<Row> {
  const source = chunks(path);
  const head = source.next();
  if (head.done) throw new UsageError(`${path}: no recipients`);
  const all = (function* (): Generator<string> {
    yield head.value;
    yield* source;
  })();
  try {
    yield* listFormat(path, head.value.slice(0, 256)) === 'csv' ? csvRows(path, all) : jsonRows(path, all);
  } finally {
    // A reader stopped early (a refused list, a run that ends) closes the file now, not at garbage collection.
    source.return(undefined);
  }
}

/** The address field of a row: `email`, else `to`. */
export function addressField(fields: Readonly<Record<string, string>>): string | undefined {
  return fields.email ?? fields.to;
}

/**
 * The one mailbox a row's address field must hold: its envelope address, or
 * why the field is refused (empty, several addresses, a group, malformed).
 */
export function oneMailbox(text: string | undefined): { address: string } | { reason: string } {
  if (text === undefined || text.trim() === '') return { reason: 'no recipient: give an "email" (or "to") field' };
  if (/[\x00-\x1f\x7f]/.test(text)) return { reason: 'the address holds a control character' };
  const list = parseAddressList(text);
  if (list.some((info) => info.group !== '' || info.memberP === '')) return { reason: `a group (${JSON.stringify(text.trim())}): one row is one recipient` };
  if (list.length !== 1) return { reason: `${list.length} addresses in one field (${JSON.stringify(text.trim())}): one row is one recipient` };
  const [info] = list;
  // An envelope address: local@domain, no route, nothing that could end a command line.
  if (info.error !== '' || info.domain === '' || info.local === '' || info.route !== '' || /[\s<>]/.test(info.address)) {
    return { reason: `not an address: ${JSON.stringify(text.trim())}${info.error ? ` (${info.error})` : ''}` };
  }
  return { address: info.address };
}
