/**
 * buildmessage: the bytes of canonical parts with the fixes listed in
 * docs/differences-from-tcllib.md: CRLF everywhere, one CTE line,
 * one random boundary, MIME-Version only at the top, encodings chosen on the
 * real bytes, strings written in their charset, binary never translated.
 */
import fc from 'fast-check';
import * as mime from '../../../mime';
import { contentTypeValue } from '../../../mime/build/headers';
import { bytesOf, crlfLines, headerPairs, parseMail, tempDir, trackedInit } from './support';

const init = trackedInit();

function ctes(data: Buffer): string[] {
  return headerPairs(data).filter(([name]) => name.toLowerCase() === 'content-transfer-encoding').map(([, value]) => value);
}

function bodyOf(data: Buffer): string {
  const text = data.toString('latin1');
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

describe('buildmessage of a leaf', () => {
  it('writes MIME-Version, Content-ID, Content-Type, a blank line and the body, CRLF, no final CRLF', () => {
    const token = init('-canonical', 'Text/plain', '-string', 'jack and jill');
    const text = mime.buildmessage(token);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('MIME-Version: 1.0');
    expect(lines[1]).toMatch(/^Content-ID: <.+@.+>$/);
    expect(lines[2]).toBe('Content-Type: text/plain');
    expect(lines[3]).toBe('');
    expect(lines[4]).toBe('jack and jill');
    expect(lines).toHaveLength(5);
  });

  it('puts stored fields in insertion order before Content-Transfer-Encoding and Content-Type', () => {
    const token = init({ canonical: 'text/plain', string: 'x', header: [['Subject', 'Hi'], ['X-Foo', 'bar'], ['X-Bar', 'baz'], ['X-Foo', 'again']] });
    const names = headerPairs(bytesOf(token)).map(([name, value]) => `${name}=${value}`);
    expect(names.slice(0, 5)).toEqual(['MIME-Version=1.0', 'Subject=Hi', 'X-Foo=bar', 'X-Bar=baz', 'X-Foo=again']);
    expect(names[5]).toMatch(/^Content-ID=/);
    expect(names[6]).toBe('Content-Type=text/plain');
  });

  it('keeps a Content-ID given by the caller instead of adding one', () => {
    const token = init({ canonical: 'text/plain', string: 'x', header: [['content-id', '<mine@example.org>']] });
    const ids = headerPairs(bytesOf(token)).filter(([name]) => name.toLowerCase() === 'content-id');
    expect(ids).toEqual([['content-id', '<mine@example.org>']]);
  });

  it('writes base64 of "hello world" with exactly one Content-Transfer-Encoding line', () => {
    const token = init({ canonical: 'application/octet-stream', string: Buffer.from('hello world'), encoding: 'base64' });
    const data = bytesOf(token);
    expect(ctes(data)).toEqual(['base64']);
    expect(bodyOf(data)).toBe('aGVsbG8gd29ybGQ=');
  });

  it('writes quoted-printable when asked, escaping what RFC 2045 requires and keeping line breaks', () => {
    const token = init({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'café = 1 \nok', encoding: 'quoted-printable' });
    const data = bytesOf(token);
    expect(ctes(data)).toEqual(['quoted-printable']);
    expect(bodyOf(data)).toBe('caf=C3=A9 =3D 1=20\r\nok');
  });
});

describe('transfer encoding chosen on the real bytes', () => {
  const choose = (canonical: string, body: string | Buffer, extra: Record<string, unknown> = {}): string[] =>
    ctes(bytesOf(init({ canonical, string: body, ...extra })));

  it('sends short plain ASCII text without a Content-Transfer-Encoding field', () => {
    expect(choose('text/plain', 'short line\nanother one\n')).toEqual([]);
  });

  it.each([
    ['a line longer than 76 octets', 'x'.repeat(77)],
    ['a line starting with a dot', 'ok\n.hidden\n'],
    ['a line starting with "From "', 'ok\nFrom me\n'],
    ['trailing white space', 'ok \nnext'],
    ['a bare CR', 'one\rtwo'],
    ['a control character', 'bell\x07'],
  ])('uses quoted-printable for text with %s', (_, body) => {
    expect(choose('text/plain', body)).toEqual(['quoted-printable']);
  });

  it('uses quoted-printable for mostly-ASCII 8-bit text and base64 for mostly non-ASCII text', () => {
    expect(choose('text/plain', 'Grüße aus Köln, und viele andere Wörter hier')).toEqual(['quoted-printable']);
    expect(choose('text/plain', 'Здравствуйте, как дела?')).toEqual(['base64']);
  });

  it('uses base64 for image/png, and for JSON with an E9 byte, but nothing for ASCII JSON', () => {
    expect(choose('image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47]))).toEqual(['base64']);
    expect(choose('application/json', Buffer.from('{"name":"Ren\xe9"}', 'latin1'))).toEqual(['base64']);
    expect(choose('application/json', '{"name":"Rene"}')).toEqual([]);
  });

  it('never newline-translates a non-text body: LF-only bytes go as base64 and come back exact', async () => {
    const body = Buffer.from('line one\nline two\n');
    const token = init({ canonical: 'application/x-data', string: body, header: [['Content-Disposition', 'attachment']] });
    const data = bytesOf(token);
    expect(ctes(data)).toEqual(['base64']);
    const parsed = await parseMail(data);
    expect(parsed.attachments[0].content.equals(body)).toBe(true);
  });

  it('turns LF into CRLF in text written without encoding (RFC 2046 canonical form)', () => {
    const data = bytesOf(init({ canonical: 'text/plain', string: 'a\nb\r\nc\n' }));
    expect(bodyOf(data)).toBe('a\r\nb\r\nc\r\n');
  });

  it('honours 8bit and 7bit when the body fits them, and upgrades when it does not', () => {
    expect(choose('text/plain', 'Grüße', { encoding: '8bit' })).toEqual(['8bit']);
    expect(choose('text/plain', 'plain', { encoding: '7bit' })).toEqual(['7bit']);
    expect(choose('text/plain', 'Grüße aus Köln und anderswo', { encoding: '7bit' })).toEqual(['quoted-printable']);
    expect(choose('text/plain', 'y'.repeat(1200), { encoding: '8bit' })).toEqual(['quoted-printable']);
    expect(choose('application/octet-stream', Buffer.from([0x41, 0, 0x42]), { encoding: '8bit' })).toEqual(['base64']);
  });

  it('writes binary as it is, bytes untouched', () => {
    const body = Buffer.from([0x00, 0x0a, 0xff, 0x0d, 0x41]);
    const data = bytesOf(init({ canonical: 'application/octet-stream', string: body, encoding: 'binary' }));
    expect(ctes(data)).toEqual(['binary']);
    expect(data.subarray(data.length - body.length).equals(body)).toBe(true);
  });

  it('encodes a JavaScript string in its charset, adding charset=utf-8 to non-ASCII text that declared none', async () => {
    const latin = bytesOf(init({ canonical: 'text/plain', param: [['charset', 'iso-8859-1']], string: 'François', encoding: '8bit' }));
    expect(latin.subarray(latin.length - 8).equals(Buffer.from('Fran\xe7ois', 'latin1'))).toBe(true);

    const utf = bytesOf(init({ canonical: 'text/plain', string: 'François' }));
    expect(headerPairs(utf).find(([name]) => name === 'Content-Type')?.[1]).toBe('text/plain; charset=utf-8');
    expect((await parseMail(utf)).text).toBe('François');
  });

  it('keeps every line within 998 octets whatever the body', () => {
    const bodies: Array<[string, string | Buffer]> = [
      ['text/plain', 'z'.repeat(5000)],
      ['application/octet-stream', Buffer.alloc(5000, 0x41)],
      ['text/plain', 'é'.repeat(3000)],
    ];
    for (const [canonical, body] of bodies) {
      for (const line of crlfLines(bytesOf(init({ canonical, string: body })))) {
        expect(Buffer.byteLength(line, 'latin1')).toBeLessThanOrEqual(998);
      }
    }
  });
});

describe('Content-Type fields written again for many parts', () => {
  it('are each part\'s own, however alike their parameters look, built in any order', () => {
    const lists: Array<Array<[string, string]>> = [
      [['charset', 'us-ascii']],
      [['charset', 'utf-8']],
      [['a', 'b;c=d']],
      [['a', 'b'], ['c', 'd']],
      [['a', 'b1:c']],
      [['a1', ':c']],
      [['ab', 'c']],
      [['a', 'bc']],
      [['a', 'b'], ['cd', 'e']],
      [['a', 'bc'], ['d', 'e']],
      [['format', 'flowed'], ['charset', 'us-ascii']],
      [['charset', 'us-ascii'], ['format', 'flowed']],
    ];
    const expected = lists.map((params) => contentTypeValue('text/plain', params));
    expect(new Set(expected).size).toBe(lists.length);
    for (const round of [0, 1]) {
      const order = round === 0 ? lists.keys() : [...lists.keys()].reverse();
      for (const i of order) {
        const [type] = headerPairs(bytesOf(init({ canonical: 'text/plain', param: lists[i], string: 'x' })))
          .filter(([name]) => name.toLowerCase() === 'content-type')
          .map(([, value]) => value.replace(/\r\n/g, ''));
        expect(type).toBe(expected[i]);
      }
    }
  });
});

describe('buildmessage of a multipart', () => {
  it('lowercases, writes the parameters, and delimits each part with CRLF --boundary CRLF', () => {
    const one = init({ canonical: 'text/plain', string: 'part one' });
    const two = init({ canonical: 'text/plain', string: 'part two' });
    const token = init({
      canonical: 'Multipart/MyType',
      param: [['MyParam', 'foo'], ['boundary', 'bndry']],
      header: [['Content-Description', 'a multipart']],
      parts: [one, two],
    });
    const text = mime.buildmessage(token);
    const pairs = headerPairs(Buffer.from(text, 'latin1'));
    expect(pairs.find(([name]) => name === 'Content-Type')?.[1]).toBe('multipart/mytype; myparam=foo; boundary=bndry');
    expect(pairs.find(([name]) => name === 'Content-Description')?.[1]).toBe('a multipart');
    const body = text.slice(text.indexOf('\r\n\r\n') + 2);
    expect(body.startsWith('\r\n--bndry\r\n')).toBe(true);
    expect(body.split('\r\n--bndry\r\n')).toHaveLength(3);
    expect(body.endsWith('part two\r\n--bndry--\r\n')).toBe(true);
  });

  it('gives the sub-parts in order when read back', async () => {
    const parts = ['part1', 'part2', 'part3'].map((text) => init({ canonical: 'text/plain', string: text, header: [['Content-Disposition', 'attachment']] }));
    const token = init({ canonical: 'multipart/foo', param: [['boundary', 'bar']], parts });
    const parsed = await parseMail(bytesOf(token));
    expect(parsed.attachments.map((attachment) => attachment.content.toString())).toEqual(['part1', 'part2', 'part3']);
  });

  it('writes MIME-Version once, at the top only', () => {
    const inner = init({ canonical: 'multipart/alternative', parts: [init({ canonical: 'text/plain', string: 'a' }), init({ canonical: 'text/html', string: '<b>a</b>' })] });
    const token = init({ canonical: 'multipart/mixed', parts: [inner, init({ canonical: 'image/gif', string: Buffer.from('GIF89a') })] });
    const versions = crlfLines(bytesOf(token)).filter((line) => /^mime-version:/i.test(line));
    expect(versions).toEqual(['MIME-Version: 1.0']);
  });

  it('chooses one random boundary per multipart, with =_ in it, the same in the field and the delimiters', () => {
    const make = (): mime.Token => init({ canonical: 'multipart/mixed', parts: [init({ canonical: 'text/plain', string: 'x' })] });
    const first = make();
    const second = make();
    const boundaryOf = (token: mime.Token): string => mime.getproperty(token, 'params').boundary;
    expect(boundaryOf(first)).toMatch(/=_/);
    expect(boundaryOf(first)).not.toBe(boundaryOf(second));
    const text = mime.buildmessage(first);
    expect(text).toBe(mime.buildmessage(first));
    const boundary = boundaryOf(first);
    expect(headerPairs(Buffer.from(text, 'latin1')).find(([name]) => name === 'Content-Type')?.[1]).toBe(`multipart/mixed; boundary="${boundary}"`);
    expect(text.split(`--${boundary}\r\n`)).toHaveLength(2);
    expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
  });

  it('refuses a boundary given by the caller that occurs in a sub-part', () => {
    const part = init({ canonical: 'text/plain', string: 'oops\n--sep\nnot a part' });
    expect(() => mime.initialize({ canonical: 'multipart/mixed', param: [['boundary', 'sep']], parts: [part] })).toThrow(
      expect.objectContaining({ name: 'MimeError' }),
    );
  });

  it('writes message/rfc822 with its enclosed message, which has its own MIME-Version', async () => {
    const inner = init({ canonical: 'text/plain', string: 'inside', header: [['Subject', 'Inner']] });
    const token = init({ canonical: 'message/rfc822', parts: [inner], header: [['Subject', 'Outer']] });
    const data = bytesOf(token);
    const text = data.toString('latin1');
    expect(text.match(/^MIME-Version: 1\.0$/gm)).toHaveLength(2);
    expect(text.endsWith('\r\n\r\ninside')).toBe(true);
    const parsed = await parseMail(data);
    expect(parsed.subject).toBe('Outer');
  });
});

describe('file bodies', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('are read when built, encoded like the same bytes given as a string', () => {
    const bytes = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7) & 0xff));
    const path = dir.file('data.bin', bytes);
    const fromFile = bodyOf(bytesOf(init({ canonical: 'application/octet-stream', file: path })));
    const fromString = bodyOf(bytesOf(init({ canonical: 'application/octet-stream', string: bytes })));
    expect(fromFile).toBe(fromString);
    expect(Buffer.from(fromFile.replace(/\r\n/g, ''), 'base64').equals(bytes)).toBe(true);
  });

  it('text sent without encoding is its canonical form, the same from memory and from a file', () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('line', 'x'.repeat(30), '\r\n', '\n', '\r', '\r\r\n', ' ', 'é'), { maxLength: 40 }),
        fc.constantFrom('', '8bit', '7bit'),
        (pieces, encoding) => {
          const text = pieces.join('');
          const extra = { header: [['Content-ID', '<same@test>']], ...(encoding === '' ? {} : { encoding }) };
          const fromString = bytesOf(init({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: text, ...extra }));
          const path = dir.file(`text-${n++}.txt`, text);
          const fromFile = bytesOf(init({ canonical: 'text/plain', param: [['charset', 'utf-8']], file: path, ...extra }));
          expect(fromFile.equals(fromString)).toBe(true);
          if (ctes(fromString).every((cte) => cte === '8bit' || cte === '7bit')) {
            expect(bodyOf(fromString)).toBe(Buffer.from(text.replace(/(?<!\r)\n/g, '\r\n'), 'utf8').toString('latin1'));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a text file is scanned for its encoding like a string', () => {
    const path = dir.file('notes.txt', 'first\n.second\n');
    const data = bytesOf(init({ canonical: 'text/plain', file: path }));
    expect(ctes(data)).toEqual(['quoted-printable']);
    expect(bodyOf(data)).toBe('first\r\n=2Esecond\r\n');
  });
});

describe('the string buildmessage returns', () => {
  it('has one character per octet (Latin-1), so Buffer.from(text, "latin1") gives the bytes', () => {
    const body = Buffer.from([0xc3, 0xa9, 0xff, 0x80]);
    const text = mime.buildmessage(init({ canonical: 'application/octet-stream', string: body, encoding: 'binary' }));
    expect(text.endsWith('\u00c3\u00a9\u00ff\u0080')).toBe(true);
    expect(Buffer.from(text, 'latin1').subarray(-4).equals(body)).toBe(true);
  });

  it('is plain ASCII for a message with non-ASCII text and headers (everything is encoded)', () => {
    const token = init({ canonical: 'text/plain', string: 'Grüße 中文', header: [['Subject', 'Ünïcödé 中文']] });
    expect(mime.buildmessage(token)).toMatch(/^[\x00-\x7f]*$/);
  });

  it('parses back to the same bytes through initialize({ string })', () => {
    const token = init({ canonical: 'multipart/mixed', parts: [init({ canonical: 'application/octet-stream', string: Buffer.from([1, 2, 0xfe]), encoding: 'binary' })] });
    const text = mime.buildmessage(token);
    const again = init({ string: text });
    expect(mime.buildmessage(again)).toBe(text);
  });
});

describe('a finalized token', () => {
  it('is refused with ETOKEN naming it', () => {
    const token = mime.initialize({ canonical: 'text/plain', string: 'x' });
    mime.finalize(token);
    expect(() => mime.buildmessage(token)).toThrow(expect.objectContaining({ name: 'MimeError', code: 'ETOKEN', message: expect.stringContaining(String(token)) }));
  });
});
