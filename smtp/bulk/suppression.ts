/**
 * The suppression list: addresses a bulk run must not mail again (hard
 * bounces, complaints, unsubscribes). A CSV file with the header
 * `address,reason,date`, one address per row, appended to and never
 * rewritten, so that a crash mid-append loses at most the row being written.
 * Addresses compare without case.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { InvalidInputError } from '../../lib/errors';

/** The header row of a suppression list. */
export const SUPPRESSION_HEADER = 'address,reason,date';

/** One row of the list. */
export interface SuppressionEntry {
  address: string;
  /** Why: a bounce reason (`userunknown`, ...), `feedback`, `unsubscribe`. */
  reason: string;
  /** When, ISO 8601; the time of the append when absent. */
  date?: string;
}

/** RFC 4180: a cell quoted when it holds a comma, a quote or a line break. */
function cell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The first cell of a CSV row (quoted or not). */
function firstCell(row: string): string {
  if (!row.startsWith('"')) {
    const comma = row.indexOf(',');
    return comma < 0 ? row : row.slice(0, comma);
  }
  let out = '';
  for (let i = 1; i < row.length; i += 1) {
    if (row[i] === '"') {
      if (row[i + 1] === '"') {
        out += '"';
        i += 1;
      } else return out;
    } else out += row[i];
  }
  return out;
}

function checkAddress(address: string): string {
  const trimmed = address.trim();
  if (trimmed === '' || !trimmed.includes('@') || /[\r\n\0]/.test(trimmed)) {
    throw new InvalidInputError('suppression address', `${JSON.stringify(address)} is not a mail address: a suppression list holds one address per row`);
  }
  return trimmed;
}

/**
 * The addresses in a suppression list, lower-cased; an empty set when the
 * file does not exist. Rows that name no address are skipped.
 */
export function loadSuppression(file: string): Set<string> {
  const addresses = new Set<string>();
  if (!existsSync(file)) return addresses;
  const text = readFileSync(file, 'utf8');
  let start = 0;
  let row = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    row += 1;
    if (row === 1 && line.toLowerCase().startsWith('address')) continue;
    const address = firstCell(line).trim().toLowerCase();
    if (address.includes('@')) addresses.add(address);
  }
  return addresses;
}

/**
 * Appends the entries whose address is not listed yet (nor repeated among
 * the entries), creating the file with its header when missing, and fsyncs
 * it. Returns the entries written. Meant for one writer at a time.
 *
 * TypeScript: `appendSuppression('suppress.csv', [{ address: 'ann@example.net', reason: 'userunknown' }])`
 */
export function appendSuppression(file: string, entries: readonly SuppressionEntry[]): SuppressionEntry[] {
  const checked = entries.map((e) => ({ ...e, address: checkAddress(e.address) }));
  const listed = loadSuppression(file);
  const fresh: SuppressionEntry[] = [];
  const now = new Date().toISOString();
  for (const entry of checked) {
    const key = entry.address.toLowerCase();
    if (listed.has(key)) continue;
    listed.add(key);
    fresh.push({ address: entry.address, reason: entry.reason, date: entry.date ?? now });
  }
  const fd = openSync(file, 'a+');
  try {
    let prefix = '';
    const size = fstatSync(fd).size;
    if (size === 0) prefix = `${SUPPRESSION_HEADER}\n`;
    else {
      // A file that does not end its last row gets a line break first.
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    const rows = fresh.map((e) => `${cell(e.address)},${cell(e.reason)},${cell(e.date ?? now)}\n`).join('');
    if (prefix !== '' || rows !== '') writeSync(fd, prefix + rows);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return fresh;
}
