/**
 * Helpers for the builder's tests: tokens finalized after each test, the
 * bytes of a token, its lines, an independent parse (mailparser), and
 * temporary files that clean up after themselves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import * as mime from '../../../mime';
import type { TclWords } from '../../../lib/options';

/**
 * `mime.initialize`, with every token it makes finalized (sub-parts and all)
 * after each test of the calling describe block or file, in the order made.
 * A token the test already released is passed over, unless `strict`, where
 * that fails the test.
 */
export function trackedInit(options: { strict?: boolean } = {}): (...args: unknown[]) => mime.Token {
  const created: mime.Token[] = [];
  afterEach(() => {
    for (const token of created.splice(0)) {
      try {
        mime.finalize(token, { subordinates: 'all' });
      } catch (error) {
        if (options.strict) throw error;
      }
    }
  });
  return (...args) => {
    // Tests pass both forms, and wrong values on purpose: the run-time checks are what they test.
    const token = mime.initialize(...(args as TclWords));
    created.push(token);
    return token;
  };
}

/** The exact bytes buildmessage stands for. */
export function bytesOf(token: mime.Token): Buffer {
  return Buffer.from(mime.buildmessage(token), 'latin1');
}

/** The lines of a message split on CRLF; throws when a bare CR or LF is found. */
export function crlfLines(data: Buffer): string[] {
  const text = data.toString('latin1');
  const lines = text.split('\r\n');
  for (const line of lines) {
    if (line.includes('\r') || line.includes('\n')) throw new Error(`bare CR or LF in line ${JSON.stringify(line)}`);
  }
  return lines;
}

/** The header block of a message (up to the first empty line) as unfolded `[name, value]` pairs. */
export function headerPairs(data: Buffer): Array<[string, string]> {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const block = (end < 0 ? text : text.slice(0, end)).replace(/\r\n(?=[ \t])/g, '');
  return block.split('\r\n').map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
}

export function parseMail(data: Buffer): Promise<ParsedMail> {
  return simpleParser(data, { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
}

/** A temporary directory removed after the suite. */
export function tempDir(): { path: string; file(name: string, data: string | Buffer): string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'tclmail-mime-'));
  return {
    path,
    file(name, data) {
      const file = join(path, name);
      writeFileSync(file, data);
      return file;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}
