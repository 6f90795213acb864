/**
 * Building parsed messages: an unchanged message comes out byte for byte as
 * it was read (folding, LF line ends, preamble, epilogue, padding and all); a
 * change touches only the field that changed.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import * as mime from '../../../mime';
import { bytesOf, tempDir, trackedInit } from '../build/support';

const dir = tempDir();
afterAll(() => dir.remove());
const init = trackedInit();

const MESSAGE = [
  'MIME-Version: 1.0',
  'Received: from a by b;',
  '\tTue, 29 Feb 2000 21:57:00 +0000',
  'Subject: =?ISO-8859-1?Q?Fran=E7ois?= and',
  ' a folded subject',
  'X-Spacing:    kept   as is   ',
  'Content-Type: multipart/mixed;',
  '    boundary="outer"',
  '',
  'This is the preamble.',
  '--outer   ',
  'Content-Type: text/plain; charset=iso-8859-1',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Fran\xe7ois',
  '--outer',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment;',
  ' filename="a.bin"',
  '',
  'AAECAwQFBgcICQ==',
  '--outer--',
  'This is the epilogue.',
  '',
];

describe('an unchanged parsed message', () => {
  it.each([
    ['CRLF', '\r\n'],
    ['LF', '\n'],
  ])('builds to the same bytes with %s line ends', (_, eol) => {
    const original = Buffer.from(MESSAGE.join(eol), 'latin1');
    expect(bytesOf(init({ string: original })).equals(original)).toBe(true);
    const path = dir.file(`message-${eol.length}.eml`, original);
    const fromFile = init({ file: path });
    expect(bytesOf(fromFile).equals(original)).toBe(true);
  });

  it('copies a 35 KB file attachment and reparses to the same message', async () => {
    const content = Buffer.from(Array.from({ length: 35 * 1024 }, (_, i) => (i * 17 + 3) & 0xff));
    const attachment = init({ canonical: 'application/octet-stream', file: dir.file('payload.bin', content), header: [['Content-Disposition', 'attachment; filename="payload.bin"']] });
    const message = init({ canonical: 'multipart/mixed', parts: [init({ canonical: 'text/plain', string: 'see attached' }), attachment] });
    const path = `${dir.path}/copied.eml`;
    const out = createWriteStream(path);
    await mime.copymessage(message, out);
    await new Promise<void>((resolve) => out.end(resolve));
    const written = readFileSync(path);
    expect(written.equals(bytesOf(message))).toBe(true);

    const reparsed = init({ file: path });
    expect(bytesOf(reparsed).equals(written)).toBe(true);
    const [, part] = mime.getproperty(reparsed, 'parts');
    expect(mime.getbody(part)).toEqual(content);
    expect(mime.getheader(part, 'Content-Disposition')).toEqual(['attachment; filename="payload.bin"']);
  });

  it('a built multipart without a given boundary can be read back', () => {
    const token = init({ canonical: 'multipart/mixed', parts: [init({ canonical: 'text/plain', string: 'one' }), init({ canonical: 'text/plain', string: 'two' })] });
    const parsed = init({ string: mime.buildmessage(token) });
    expect(mime.getproperty(parsed, 'parts').map((part) => mime.getbody(part))).toEqual([Buffer.from('one'), Buffer.from('two')]);
  });

  it('keeps MIME-Version 2.0, and gives a message without one MIME-Version 1.0 at the top', () => {
    const two = 'MIME-Version: 2.0\r\nSubject: x\r\n\r\nbody';
    expect(mime.buildmessage(init({ string: two }))).toBe(two);
    const none = 'Subject: x\r\n\r\nbody';
    expect(mime.buildmessage(init({ string: none }))).toBe(`MIME-Version: 1.0\r\n${none}`);
  });

  it('reads a CRLF message with its Subject and children', () => {
    const token = init({ string: Buffer.from(MESSAGE.join('\r\n'), 'latin1') });
    expect(mime.getheader(token, 'Subject')).toEqual(['=?ISO-8859-1?Q?Fran=E7ois?= and a folded subject']);
    const [text, bin] = mime.getproperty(token, 'parts');
    expect(mime.getbody(text, { decode: true })).toBe('François');
    expect(mime.getbody(bin)).toEqual(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  });
});

describe('a changed parsed message', () => {
  it('rewrites only the field that changed, keeping the rest byte for byte', () => {
    const original = MESSAGE.join('\r\n');
    const token = init({ string: Buffer.from(original, 'latin1') });
    mime.setheader(token, 'X-Spacing', 'tidy');
    expect(mime.buildmessage(token)).toBe(original.replace('X-Spacing:    kept   as is   ', 'X-Spacing: tidy'));
  });

  it('appends a new field after the existing ones, and deletes a folded one whole', () => {
    const original = MESSAGE.join('\r\n');
    const token = init({ string: Buffer.from(original, 'latin1') });
    mime.setheader(token, 'X-Added', 'new', { mode: 'append' });
    mime.setheader(token, 'Received', '', { mode: 'delete' });
    const expected = original
      .replace('Received: from a by b;\r\n\tTue, 29 Feb 2000 21:57:00 +0000\r\n', '')
      .replace('    boundary="outer"\r\n', '    boundary="outer"\r\nX-Added: new\r\n');
    expect(mime.buildmessage(token)).toBe(expected);
  });

  it('changes a sub-part without touching its parent or siblings', () => {
    const original = MESSAGE.join('\n');
    const token = init({ string: Buffer.from(original, 'latin1') });
    const [, bin] = mime.getproperty(token, 'parts');
    mime.setheader(bin, 'Content-Description', 'the data');
    expect(mime.buildmessage(token)).toBe(original.replace(' filename="a.bin"\n', ' filename="a.bin"\nContent-Description: the data\n'));
  });

  it('a message/rfc822 sent as base64 is kept as it was, and encoded again once the message inside changes', () => {
    const inner = 'Subject: inner\r\nContent-Type: text/plain\r\n\r\nhello inside';
    const outer = [
      'MIME-Version: 1.0',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(inner).toString('base64').replace(/(.{20})/g, '$1\r\n').trim(),
    ].join('\r\n');
    const token = init({ string: outer });
    expect(mime.buildmessage(token)).toBe(outer);
    const [message] = mime.getproperty(token, 'parts');
    mime.setheader(message, 'Subject', 'changed');
    const rebuilt = bytesOf(token);
    const body = rebuilt.toString('latin1').split('\r\n\r\n').slice(1).join('\r\n\r\n');
    expect(Buffer.from(body, 'base64').toString()).toBe(inner.replace('Subject: inner', 'Subject: changed'));
    expect(rebuilt.toString('latin1').split('\r\n\r\n')[0]).toBe(outer.split('\r\n\r\n')[0]);
  });
});
