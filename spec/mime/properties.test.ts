/**
 * getproperty: content, declared encoding, parameters,
 * sub-part tokens and Tcllib's size, one at a time or all together.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mime from '../../mime';
import { trackedInit } from './build/support';

const init = trackedInit();
const dir = mkdtempSync(join(tmpdir(), 'tclmail-props-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('getproperty', () => {
  it('gives every property of a leaf as one object, without parts', () => {
    const token = init({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'héllo' });
    expect(mime.getproperty(token)).toEqual({ content: 'text/plain', encoding: '', params: { charset: 'utf-8' }, size: 5 });
  });

  it('gives the declared encoding, not the one the builder will choose', () => {
    expect(mime.getproperty(init({ canonical: 'image/png', string: Buffer.from('x') }), 'encoding')).toBe('');
    expect(mime.getproperty(init({ canonical: 'image/png', string: Buffer.from('x'), encoding: 'base64' }), 'encoding')).toBe('base64');
  });

  it('gives the tokens of the sub-parts of a multipart, and the sum of their sizes', () => {
    const a = init({ canonical: 'text/plain', string: 'abc' });
    const b = init({ canonical: 'application/octet-stream', string: Buffer.alloc(10) });
    const token = init({ canonical: 'multipart/mixed', parts: [a, b] });
    expect(mime.getproperty(token, 'parts')).toEqual([a, b]);
    expect(mime.getproperty(token, 'size')).toBe(13);
    const all = mime.getproperty(token);
    expect(Object.keys(all)).toEqual(['content', 'encoding', 'params', 'size', 'parts']);
    expect(all.parts).toEqual([a, b]);
  });

  it('gives the same tokens for the sub-parts of a parsed message each time', () => {
    const token = init({ string: 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n' });
    const first = mime.getproperty(token, 'parts');
    expect(mime.getproperty(token, 'parts')).toEqual(first);
    expect(first.map(String)).toEqual([`${token}-1`, `${token}-2`]);
  });

  it('counts a canonical string in characters, bytes and files in octets, parsed base64 as 3/4 of it', () => {
    expect(mime.getproperty(init({ canonical: 'text/plain', string: '😀é' }), 'size')).toBe(2);
    expect(mime.getproperty(init({ canonical: 'text/plain', string: Buffer.from('😀é') }), 'size')).toBe(6);
    const path = join(dir, 'f.bin');
    writeFileSync(path, Buffer.alloc(1234));
    expect(mime.getproperty(init({ canonical: 'application/octet-stream', file: path }), 'size')).toBe(1234);
    const parsed = init({ string: 'Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=' });
    expect(mime.getproperty(parsed, 'size')).toBe(12);
  });

  it('lists the property names with -names', () => {
    expect(mime.getproperty(init({ canonical: 'text/plain', string: 'x' }), '-names')).toEqual(['content', 'encoding', 'params']);
  });

  it('throws for the parts of a leaf and for an unknown property', () => {
    const token = init({ canonical: 'text/plain', string: 'x' });
    expect(() => mime.getproperty(token, 'parts')).toThrow(expect.objectContaining({ name: 'MimeError', message: 'MIME part is a leaf' }));
    expect(() => mime.getproperty(token, 'colour')).toThrow(expect.objectContaining({ name: 'MimeError', message: 'unknown property colour' }));
  });

  it('gives params as a fresh plain object: changing it does not change the part', () => {
    const token = init({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'x' });
    const params = mime.getproperty(token, 'params');
    params.charset = 'latin1';
    expect(mime.getproperty(token, 'params')).toEqual({ charset: 'utf-8' });
  });
});
