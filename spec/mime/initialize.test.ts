/**
 * initialize: both calling styles, canonical mode with Tcllib's validation
 * and the fixes listed in docs/differences-from-tcllib.md
 * (exactly one of string/file/parts, named bad values), and the parse-mode
 * branch's own checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mime from '../../mime';
import { trackedInit } from './build/support';

const init = trackedInit();

const dir = mkdtempSync(join(tmpdir(), 'tclmail-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the two calling styles', () => {
  it('give the same part', () => {
    const a = init({ canonical: 'text/plain', param: [['charset', 'utf-8']], header: [['Subject', 'Hi'], ['X-A', '1']], string: 'hi' });
    const b = init('-canonical', 'text/plain', '-param', ['charset', 'utf-8'], '-header', ['Subject', 'Hi'], '-header', ['X-A', '1'], '-string', 'hi');
    const strip = (text: string): string => text.replace(/^Content-ID: .*$/m, '');
    expect(strip(mime.buildmessage(b))).toBe(strip(mime.buildmessage(a)));
    expect(mime.getproperty(b)).toEqual(mime.getproperty(a));
  });

  it('accept one pair for a repeatable option in the object form', () => {
    const token = init({ canonical: 'text/plain', header: ['Subject', 'Hi'], param: ['charset', 'us-ascii'], string: 'x' });
    expect(mime.getheader(token, 'Subject')).toEqual(['Hi']);
    expect(mime.getproperty(token, 'params')).toEqual({ charset: 'us-ascii' });
  });

  it('returns opaque tokens that print like Tcllib\'s', () => {
    const token = init({ canonical: 'text/plain', string: 'x' });
    expect(token).toBeInstanceOf(mime.Token);
    expect(String(token)).toMatch(/^::mime::\d+$/);
    expect(mime.isToken(token)).toBe(true);
    expect(mime.isToken(String(token))).toBe(false);
  });
});

describe('canonical mode', () => {
  it('lowercases the content type and keeps parameters in insertion order', () => {
    const token = init({ canonical: 'Text/HTML', param: [['Charset', 'UTF-8'], ['a', '1'], ['b', '2']], string: '<p>' });
    expect(mime.getproperty(token, 'content')).toBe('text/html');
    expect(Object.entries(mime.getproperty(token, 'params'))).toEqual([['charset', 'UTF-8'], ['a', '1'], ['b', '2']]);
  });

  it('adds a Content-ID unless one is given', () => {
    expect(mime.getheader(init({ canonical: 'text/plain', string: 'x' }), 'Content-ID')[0]).toMatch(/^<.+@.+>$/);
    expect(mime.getheader(init({ canonical: 'text/plain', string: 'x', header: [['Content-Id', '<a@b>']] }), 'content-id')).toEqual(['<a@b>']);
  });

  it('takes a string, a Buffer or a file as the body', () => {
    const path = join(dir, 'body.txt');
    writeFileSync(path, 'from a file');
    expect(mime.getbody(init({ canonical: 'text/plain', string: 'text' }))).toBe('text');
    expect(mime.getbody(init({ canonical: 'text/plain', string: Buffer.from('bytes') }))).toEqual(Buffer.from('bytes'));
    expect(mime.getbody(init({ canonical: 'text/plain', string: new Uint8Array([0x41]) }))).toEqual(Buffer.from('A'));
    expect(mime.getbody(init({ canonical: 'text/plain', file: path }))).toEqual(Buffer.from('from a file'));
  });

  describe('refuses what Tcllib refuses', () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['a repeated parameter, any case', { canonical: 'text/plain', param: [['charset', 'a'], ['Charset', 'b']], string: 'x' }, 'MimeError', 'the Charset parameter may be specified at most once'],
      ['Content-Type as a header', { canonical: 'text/plain', header: [['Content-Type', 'text/html']], string: 'x' }, 'MimeError', 'use -canonical instead of -header Content-Type text/html'],
      ['Content-Transfer-Encoding as a header', { canonical: 'text/plain', header: [['content-transfer-encoding', 'base64']], string: 'x' }, 'MimeError', 'use -encoding instead of -header content-transfer-encoding base64'],
      ['Content-MD5 as a header', { canonical: 'text/plain', header: [['Content-MD5', 'x']], string: 'x' }, 'MimeError', "don't go there..."],
      ['MIME-Version as a header', { canonical: 'text/plain', header: [['MIME-Version', '2.0']], string: 'x' }, 'MimeError', "don't go there..."],
      ['no body source', { canonical: 'text/plain' }, 'OptionError', 'specify exactly one of -file, -parts, or -string'],
      ['text with parts', { canonical: 'text/plain', parts: [] }, 'MimeError', '-canonical text/plain and -parts do not mix'],
      ['image with parts', { canonical: 'image/png', parts: [] }, 'MimeError', '-canonical image/png and -parts do not mix'],
      ['an encoding with parts', { canonical: 'multipart/mixed', encoding: 'base64', parts: [] }, 'MimeError', '-encoding and -parts do not mix'],
      ['an unknown option', { canonical: 'text/plain', string: 'x', bogus: 1 }, 'OptionError', 'unknown option -bogus'],
      ['a param of the wrong shape', { canonical: 'text/plain', param: [['charset']], string: 'x' }, 'OptionError', '-param expects a key and a value'],
    ];
    it.each(cases)('%s', (_, options, name, message) => {
      expect(() => mime.initialize(options)).toThrow(expect.objectContaining({ name, message: expect.stringContaining(message) }));
    });

    it('a missing argument in the flat list', () => {
      expect(() => mime.initialize('-canonical', 'text/plain', '-string')).toThrow(expect.objectContaining({ name: 'OptionError' }));
    });
  });

  describe('checks Tcllib lacks', () => {
    it('checks "exactly one of" even when -string is given', () => {
      const path = join(dir, 'one.txt');
      writeFileSync(path, 'x');
      expect(() => mime.initialize({ canonical: 'text/plain', string: 'x', file: path })).toThrow('specify exactly one of -file, -parts, or -string');
      const part = init({ canonical: 'text/plain', string: 'x' });
      expect(() => mime.initialize({ canonical: 'multipart/mixed', string: 'x', parts: [part] })).toThrow('specify exactly one of -file, -parts, or -string');
    });

    it('names the value in the -encoding error', () => {
      expect(() => mime.initialize({ canonical: 'text/plain', encoding: 'uuencode', string: 'x' })).toThrow(
        expect.objectContaining({ name: 'OptionError', option: 'encoding', message: expect.stringContaining('"uuencode"') }),
      );
      expect(mime.getproperty(init({ canonical: 'text/plain', encoding: 'BASE64', string: 'x' }), 'encoding')).toBe('base64');
    });

    it.each(['text', 'text/', '/plain', 'text/pl ain', 'te(x)t/plain', 'text/plain\r\nBcc: x'])(
      'validates -canonical as type/subtype: refuses %j',
      (canonical) => {
        expect(() => mime.initialize({ canonical, string: 'x' })).toThrow(expect.objectContaining({ name: 'OptionError', option: 'canonical' }));
      },
    );
  });

  it('refuses a missing file at initialize time with EFILE', () => {
    expect(() => mime.initialize({ canonical: 'text/plain', file: join(dir, 'nope.txt') })).toThrow(
      expect.objectContaining({ name: 'MimeError', code: 'EFILE', message: expect.stringContaining('nope.txt') }),
    );
    expect(() => mime.initialize({ canonical: 'text/plain', file: dir })).toThrow(expect.objectContaining({ code: 'EFILE' }));
  });

  it('refuses parts that are not live tokens', () => {
    const gone = mime.initialize({ canonical: 'text/plain', string: 'x' });
    mime.finalize(gone);
    // @ts-expect-error a JavaScript caller's mistake, refused at run time
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: 'not a list' })).toThrow(expect.objectContaining({ name: 'OptionError', option: 'parts' }));
    // @ts-expect-error a JavaScript caller's mistake, refused at run time
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: ['::mime::1'] })).toThrow(expect.objectContaining({ name: 'MimeError', code: 'ETOKEN' }));
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [gone] })).toThrow(
      expect.objectContaining({ name: 'MimeError', code: 'ETOKEN', message: expect.stringContaining(String(gone)) }),
    );
  });

  it('refuses a malformed boundary and a parameter name that is not a token', () => {
    const part = init({ canonical: 'text/plain', string: 'x' });
    expect(() => mime.initialize({ canonical: 'multipart/mixed', param: [['boundary', 'a'.repeat(71)]], parts: [part] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError' }),
    );
    expect(() => mime.initialize({ canonical: 'multipart/mixed', param: [['boundary', 'ends in space ']], parts: [part] })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError' }),
    );
    expect(() => mime.initialize({ canonical: 'text/plain', param: [['na me', 'v']], string: 'x' })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
  });

  it('refuses text that its charset cannot carry, instead of changing it silently', () => {
    expect(() => mime.initialize({ canonical: 'text/plain', param: [['charset', 'us-ascii']], string: 'café' })).toThrow(
      expect.objectContaining({ name: 'MimeError', code: 'EENCODING' }),
    );
    expect(mime.getbody(init({ canonical: 'text/plain', param: [['charset', 'iso-8859-1']], string: 'café' }))).toBe('café');
  });

  it('requires exactly one part for message/*', () => {
    const a = init({ canonical: 'text/plain', string: 'a' });
    const b = init({ canonical: 'text/plain', string: 'b' });
    expect(() => mime.initialize({ canonical: 'message/rfc822', parts: [a, b] })).toThrow(expect.objectContaining({ name: 'MimeError' }));
    expect(mime.getproperty(init({ canonical: 'message/rfc822', parts: [a] }), 'parts')).toEqual([a]);
  });
});

describe('parse mode', () => {
  it('refuses the canonical-only options', () => {
    for (const name of ['param', 'encoding', 'header', 'parts']) {
      const value = name === 'encoding' ? 'base64' : name === 'parts' ? [] : ['a', 'b'];
      expect(() => mime.initialize({ string: 'Subject: x\r\n\r\nbody', [name]: value })).toThrow(`-${name} requires -canonical`);
    }
  });

  it('needs exactly one of string and file', () => {
    expect(() => mime.initialize({})).toThrow(expect.objectContaining({ name: 'OptionError' }));
    expect(() => mime.initialize({ string: 'a', file: join(dir, 'x') })).toThrow(expect.objectContaining({ name: 'OptionError' }));
  });

  it('refuses a missing file with EFILE', () => {
    expect(() => mime.initialize({ file: join(dir, 'missing.eml') })).toThrow(expect.objectContaining({ name: 'MimeError', code: 'EFILE' }));
  });

  it('parses a message given as a string or a file into a token with sub-part tokens', () => {
    const message = 'MIME-Version: 1.0\r\nSubject: Hello\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n--b--\r\n';
    const path = join(dir, 'message.eml');
    writeFileSync(path, message);
    for (const token of [init({ string: message }), init({ file: path }), init({ string: Buffer.from(message) })]) {
      expect(mime.getheader(token, 'Subject')).toEqual(['Hello']);
      const parts = mime.getproperty(token, 'parts');
      expect(parts.map((part) => mime.getproperty(part, 'content'))).toEqual(['text/plain', 'text/html']);
      expect(String(parts[1])).toBe(`${token}-2`);
      expect(mime.getbody(parts[1], { decode: true })).toBe('<b>two</b>');
      expect(mime.buildmessage(token)).toBe(message);
    }
  });

  it('reads a string of one character per octet as those octets, and text beyond Latin-1 as UTF-8', () => {
    const latin = init({ string: 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nFran\u00e7ois' });
    expect(mime.getbody(latin, { decode: true })).toBe('François');
    const wide = init({ string: 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n東京' });
    expect(mime.getbody(wide, { decode: true })).toBe('東京');
  });
});
