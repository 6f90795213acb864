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

/**
 * CSV read a piece at a time: `push` text as it comes (any split, even inside
 * a quoted field or between CR and LF), take the whole records each call
 * returns, and `end()` for the last one. Memory holds one record at most, so
 * a list of millions of rows is read in constant memory. Same rules as
 * {@link parseCsv}.
 */
export class CsvReader {
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  /** Inside quotes. */
  private inQuotes = false;
  /** A quote seen inside quotes: either the end of the field or the first of a doubled quote. */
  private quoteSeen = false;
  private pendingCr = false;
  private blank = true;
  private line = 1;
  private start = 1;
  private first = true;

  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let i = 0;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    // Runs of plain characters are taken as slices of the text, not one character at a time.
    let runStart = i;
    const take = (end: number): void => {
      if (end > runStart) this.field += text.slice(runStart, end);
    };
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === 0x0a) {
          this.endRecord(out);
          this.line += 1;
          this.start = this.line;
          runStart = i + 1;
          continue;
        }
        // A lone CR is text of an unquoted field.
        this.field += '\r';
        this.blank = false;
        runStart = i;
      }
      if (this.inQuotes) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (c === 0x22) {
            this.field += '"';
            runStart = i + 1;
            continue;
          }
          this.inQuotes = false;
          runStart = i;
          // c follows the closing quote: judged below
        } else if (c === 0x22) {
          take(i);
          this.quoteSeen = true;
          runStart = i + 1;
          continue;
        } else {
          if (c === 0x0a) this.line += 1;
          continue;
        }
      }
      if (c === 0x2c) {
        take(i);
        this.fields.push(this.field);
        this.field = '';
        this.quoted = false;
        this.blank = false;
        runStart = i + 1;
      } else if (c === 0x0a) {
        take(i);
        this.endRecord(out);
        this.line += 1;
        this.start = this.line;
        runStart = i + 1;
      } else if (c === 0x0d) {
        take(i);
        this.pendingCr = true;
        runStart = i + 1;
      } else if (this.quoted) {
        throw new CsvSyntaxError(this.line, 'a closing quote must be followed by a comma or the end of the line');
      } else if (c === 0x22) {
        if (this.field !== '' || i > runStart) throw new CsvSyntaxError(this.line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
        this.inQuotes = true;
        this.quoted = true;
        this.blank = false;
        runStart = i + 1;
      } else {
        this.blank = false;
      }
    }
    if (!this.quoteSeen && !this.pendingCr) take(text.length);
    return out;
  }

  /** The last record, if the text did not end with a line end. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.inQuotes && !this.quoteSeen) throw new CsvSyntaxError(this.start, 'a quoted field is not closed');
    if (this.pendingCr) {
      this.pendingCr = false;
    }
    this.inQuotes = false;
    this.quoteSeen = false;
    this.endRecord(out);
    return out;
  }

  private endRecord(out: CsvRecord[]): void {
    this.fields.push(this.field);
    if (!this.blank) out.push({ fields: this.fields, line: this.start });
    this.fields = [];
    this.field = '';
    this.quoted = false;
    this.blank = true;
  }
}

/**
 * A report cell that a spreadsheet will show as text: a value starting with
 * `=`, `+`, `-`, `@`, TAB or CR would be read as a formula (CSV injection),
 * so it gets a leading `'`.
 */
export function reportCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
