/**
 * CSV as RFC 4180 defines it, both ways: a reader for recipient lists
 * (quoted fields, doubled quotes, commas and line breaks inside quotes, CRLF
 * or LF line ends) and a writer for reports that quotes whatever needs it.
 */

/** A record with the line of the file it starts on, for messages that point at the input. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Malformed CSV: where, and what is wrong. */
export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'CsvSyntaxError';
  }
}

/**
 * Splits CSV text into records. A leading byte order mark is dropped, and so is
 * the line end of the last record; lines that are entirely empty are skipped
 * (a blank line is not a record with one empty field in any list people write).
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let blank = true;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        blank = false;
        i += 1;
        for (;;) {
          if (i >= text.length) throw new CsvSyntaxError(start, 'a quoted field is not closed');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i += 1;
            break;
          }
          if (c === '\n') line += 1;
          field += c;
          i += 1;
        }
        const next = text[i];
        if (i < text.length && next !== ',' && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new CsvSyntaxError(line, 'a closing quote must be followed by a comma or the end of the line');
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
          field += text[i];
          i += 1;
        }
        if (field !== '') blank = false;
      }
      fields.push(field);
      if (text[i] === ',') {
        blank = false;
        i += 1;
        continue;
      }
      // End of the record: CRLF, LF, or the end of the text.
      if (text[i] === '\r') i += 1;
      if (text[i] === '\n') {
        i += 1;
        line += 1;
      }
      break;
    }
    if (!blank) records.push({ fields, line: start });
  }
  return records;
}

/** One field for a CSV file: quoted (quotes doubled) when it holds a comma, a quote, CR or LF, or edge spaces. */
export function quoteCsv(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV record with its CRLF line end (RFC 4180 section 2). */
export function csvLine(values: readonly string[]): string {
  return `${values.map(quoteCsv).join(',')}\r\n`;
}
