/**
 * getbody: canonical bodies as given,
 * parsed bodies transfer-decoded, `decode` to a string from the charset, and
 * the `command` callback in blocks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mime from '../../mime';
import { trackedInit } from './build/support';

const init = trackedInit({ strict: true });
const dir = mkdtempSync(join(tmpdir(), 'tclmail-getbody-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('getbody of a canonical part', () => {
  it('gives the body exactly as given: a string stays a string, bytes stay bytes', () => {
    expect(mime.getbody(init({ canonical: 'text/plain', string: 'a\nb\r\n' }))).toBe('a\nb\r\n');
    const bytes = Buffer.from([0, 1, 0xff]);
    const body = mime.getbody(init({ canonical: 'application/octet-stream', string: bytes }));
    expect(Buffer.isBuffer(body) && body.equals(bytes)).toBe(true);
  });

  it('reads a file body', () => {
    const path = join(dir, 'body.bin');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expect(mime.getbody(init({ canonical: 'application/octet-stream', file: path }))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('with decode gives text as a string, converting bytes from their charset', () => {
    expect(mime.getbody(init({ canonical: 'text/plain', string: 'déjà' }), { decode: true })).toBe('déjà');
    const latin = init({ canonical: 'text/plain', param: [['charset', 'iso-8859-1']], string: Buffer.from('Fran\xe7ois', 'latin1') });
    expect(mime.getbody(latin, '-decode')).toBe('François');
    expect(mime.getbody(latin)).toEqual(Buffer.from('Fran\xe7ois', 'latin1'));
  });

  it('with decode gives a non-text part without charset as bytes', () => {
    const body = mime.getbody(init({ canonical: 'application/json', string: '{"a":"é"}' }), { decode: true });
    expect(Buffer.isBuffer(body) && body.toString('utf8')).toBe('{"a":"é"}');
  });

  it('throws "isn\'t a leaf" for a multipart', () => {
    const token = init({ canonical: 'multipart/mixed', parts: [init({ canonical: 'text/plain', string: 'x' })] });
    expect(() => mime.getbody(token)).toThrow(expect.objectContaining({ name: 'MimeError', message: "MIME part isn't a leaf" }));
  });
});

describe('getbody of a parsed part', () => {
  it('decodes the transfer encoding and gives bytes', () => {
    const token = init({ string: 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n' });
    expect(mime.getbody(token)).toEqual(Buffer.from('hello world'));
  });

  it('decodes Latin-1 and EUC-JP quoted-printable text with decode', () => {
    const latin = init({ string: 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFran=E7ois' });
    expect(mime.getbody(latin, { decode: true })).toBe('François');
    const japanese = init({ string: 'Content-Type: text/plain; charset=EUC-JP\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=A4=CF' });
    expect(mime.getbody(japanese, { decode: true })).toBe('\u306f');
  });

  it('fails decode for an unknown charset with Tcllib\'s message', () => {
    const token = init({ string: 'Content-Type: text/plain; charset=SCRIBBLE\r\n\r\nhello' });
    expect(mime.getbody(token)).toEqual(Buffer.from('hello'));
    expect(() => mime.getbody(token, { decode: true })).toThrow(
      expect.objectContaining({ name: 'MimeError', message: "-decode failed: can't reversemap charset SCRIBBLE" }),
    );
  });

  it('reads a body region of a parsed file', () => {
    const path = join(dir, 'parsed.eml');
    writeFileSync(path, 'Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak=3D\r\n');
    expect(mime.getbody(init({ file: path }), { decode: true })).toBe('softbreak=\r\n');
  });
});

describe('getbody with a command', () => {
  it('hands over blocks of blocksize, then end', () => {
    const calls: Array<[string, unknown]> = [];
    const result = mime.getbody(init({ canonical: 'text/plain', string: 'part one' }), {
      blocksize: 3,
      command: (event, data) => {
        calls.push([event, data]);
        return `last:${event}`;
      },
    });
    expect(calls).toEqual([['data', 'par'], ['data', 't o'], ['data', 'ne'], ['end', undefined]]);
    expect(result).toBe('last:end');
  });

  it('works in the flat-list form with -decode as a bare flag', () => {
    const blocks: unknown[] = [];
    const token = init({ canonical: 'text/plain', param: [['charset', 'iso-8859-1']], string: Buffer.from('\xe9t\xe9', 'latin1') });
    mime.getbody(token, '-decode', '-command', (event: string, data?: unknown) => (event === 'data' ? blocks.push(data) : 0), '-blocksize', 2);
    expect(blocks).toEqual(['ét', 'é']);
  });

  it('cuts bytes into blocks of octets, and 4096 by default', () => {
    const sizes: number[] = [];
    const collect = (event: string, data?: string | Buffer): void => {
      if (event === 'data') sizes.push((data as Buffer).length);
    };
    mime.getbody(init({ canonical: 'application/octet-stream', string: Buffer.alloc(10000) }), { command: collect });
    expect(sizes).toEqual([4096, 4096, 1808]);
  });

  it('never splits a surrogate pair', () => {
    const blocks: string[] = [];
    mime.getbody(init({ canonical: 'text/plain', string: 'a😀b' }), { blocksize: 2, command: (event, data) => event === 'data' && blocks.push(data as string) });
    expect(blocks.join('')).toBe('a😀b');
    for (const block of blocks) expect(block).not.toMatch(/[\ud800-\udbff]$|^[\udc00-\udfff]/);
  });

  it('reports an error to the command before throwing it', () => {
    const events: string[] = [];
    const token = init({ string: 'Content-Type: text/plain; charset=SCRIBBLE\r\n\r\nhello' });
    expect(() => mime.getbody(token, { decode: true, command: (event) => events.push(event) })).toThrow(/reversemap/);
    expect(events).toEqual(['error']);
  });

  it('refuses a blocksize below 1 with Tcllib\'s message', () => {
    expect(() => mime.getbody(init({ canonical: 'text/plain', string: 'x' }), { blocksize: 0 })).toThrow(
      expect.objectContaining({ name: 'OptionError', message: expect.stringContaining('-blocksize expects a positive integer, not 0') }),
    );
  });
});
