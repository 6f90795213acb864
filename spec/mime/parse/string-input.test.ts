/**
 * A message given as a string: text (read as UTF-8) or bytes (read one byte
 * per character), told apart without ever garbling either, and refused when
 * neither reading fits. Compared with Tcllib, which reads the same file with
 * `read` and gets the text right through Tcl's lenient UTF-8 decoder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mime from '../../../mime';
import { MimeError } from '../../../lib/errors';
import { describeWithTcllib, runTcl, tclQuote } from '../../support/tcl';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-string-input-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function utf8Message(text: string): Buffer {
  return Buffer.from(`Subject: test\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${text}\n`, 'utf8');
}

function bodyOf(input: string | Buffer): { text: string; bytes: Buffer } {
  const tok = mime.initialize('-string', input);
  try {
    return { text: mime.getbody(tok, { decode: true }) as string, bytes: mime.getbody(tok) as Buffer };
  } finally {
    mime.finalize(tok);
  }
}

const CASES = [
  ['only characters below U+0100', 'Café crème brûlée'],
  ['with a €', 'Café crème brûlée, 5 €'],
];

describe('a message string read as UTF-8 text', () => {
  it.each(CASES)('%s decodes right, and its raw body is UTF-8 bytes', (_what, text) => {
    const path = file('m.eml', utf8Message(text));
    for (const input of [readFileSync(path, 'utf8'), readFileSync(path), readFileSync(path, 'latin1')]) {
      const body = bodyOf(input);
      expect(body.text).toBe(`${text}\n`);
      expect(body.bytes).toEqual(Buffer.from(`${text}\n`, 'utf8'));
      // getbody without decode is bytes; String() reads them as UTF-8.
      expect(String(body.bytes)).toBe(`${text}\n`);
    }
  });

  it('an ISO-8859-1 message read one byte per character stays bytes (its charset says so)', () => {
    const path = file('latin1.eml', Buffer.from('Content-Type: text/plain; charset=iso-8859-1\n\nCafé crème\n', 'latin1'));
    expect(bodyOf(readFileSync(path, 'latin1')).text).toBe('Café crème\n');
    expect(bodyOf(readFileSync(path)).text).toBe('Café crème\n');
  });

  it('a multipart with a UTF-8 part and an ISO-8859-1 part, read one byte per character, is bytes throughout', () => {
    const bytes = Buffer.concat([
      Buffer.from('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nCafé\n', 'utf8'),
      Buffer.from('--b\nContent-Type: text/plain; charset=iso-8859-1\n\nCafé\n--b--\n', 'latin1'),
    ]);
    const tok = mime.initialize('-string', bytes.toString('latin1'));
    const parts = mime.getproperty(tok, 'parts');
    expect(parts.map((part) => mime.getbody(part, { decode: true }))).toEqual(['Café', 'Café']);
    mime.finalize(tok);
  });

  it('refuses a string that no single reading fits, and says to give a Buffer', () => {
    // A UTF-8 part written as text and an ISO-8859-1 part written as bytes, in one string.
    const mixed = 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nCafé\n--b\nContent-Type: text/plain; charset=iso-8859-1\n\nCafé\n--b--\n';
    expect(() => mime.initialize('-string', mixed)).toThrow(MimeError);
    expect(() => mime.initialize('-string', mixed)).toThrow(/give its bytes as a Buffer/);
  });
});

describeWithTcllib('the same files read by Tcllib', () => {
  function tclBody(path: string): string {
    const script = [
      `set fd [open ${tclQuote(path)}]`,
      'fconfigure $fd -encoding utf-8',
      'set t [mime::initialize -string [read $fd]]',
      'close $fd',
      'fconfigure stdout -encoding utf-8 -translation lf',
      'puts -nonewline [mime::getbody $t -decode]',
    ].join('\n');
    return runTcl(script).toString('utf8');
  }

  it('only characters below U+0100: getbody -decode gives the text Tcllib gives', () => {
    const path = file('tcl.eml', utf8Message('Café crème brûlée'));
    expect(tclBody(path)).toBe('Café crème brûlée\n');
    expect(bodyOf(readFileSync(path, 'utf8')).text).toBe(tclBody(path));
  });

  it('with a €, Tcllib keeps only its low byte (¬); tclmail gives the text', () => {
    const path = file('tcl-euro.eml', utf8Message('5 €'));
    expect(tclBody(path)).toBe('5 ¬\n');
    expect(bodyOf(readFileSync(path, 'utf8')).text).toBe('5 €\n');
  });
});

describe('bytes that are not text', () => {
  it('an 8-bit application/octet-stream part read back from buildmessage keeps its bytes', () => {
    const binary = mime.initialize({ canonical: 'application/octet-stream', string: Buffer.from([1, 2, 0xfe, 0xe9]), encoding: 'binary' });
    const tok = mime.initialize({ canonical: 'multipart/mixed', parts: [binary] });
    const text = mime.buildmessage(tok);
    const again = mime.initialize('-string', text);
    expect(mime.buildmessage(again)).toBe(text);
    const [part] = mime.getproperty(again, 'parts');
    expect(mime.getbody(part)).toEqual(Buffer.from([1, 2, 0xfe, 0xe9]));
    mime.finalize(again);
    mime.finalize(tok, { subordinates: 'all' });
  });
});
