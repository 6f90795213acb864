/**
 * Parse mode on messages held in memory: header blocks, the MIME fields,
 * multipart splitting, message/* parts, and the defects recorded instead of
 * errors.
 */
import { parseBuffer } from '../../../mime/parse/message';
import { allParts, bodyBytes, crlf, reassemble, shape } from './support';

const parse = (text: string) => parseBuffer(Buffer.from(text, 'latin1'));

describe('header block', () => {
  it('reads LF, CRLF and mixed line ends alike', () => {
    for (const text of ['Subject: Hello\nTo: a@b.c\n\nbody\n', 'Subject: Hello\r\nTo: a@b.c\r\n\r\nbody\r\n', 'Subject: Hello\r\nTo: a@b.c\n\r\nbody\n']) {
      const part = parse(text);
      expect(part.headers.map((field) => [field.name, field.value])).toEqual([
        ['Subject', 'Hello'],
        ['To', 'a@b.c'],
      ]);
      expect(bodyBytes(part.body).toString()).toMatch(/^body\r?\n$/);
      expect(part.defects).toEqual([]);
    }
  });

  it('gives a CRLF message the Subject Hello, not Hello] (Tcllib 1.7.0 ticket 8bb4e24bc1)', () => {
    const part = parse(crlf('MIME-Version: 1.0\nSubject: Hello\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n'));
    expect(part.headers).toEqual([expect.objectContaining({ name: 'Subject', value: 'Hello' })]);
    expect(shape(part).parts?.map((child) => child.body)).toEqual(['one', 'two']);
  });

  it('unfolds values and keeps the exact bytes, folding included, in raw', () => {
    const part = parse('Subject: a long\r\n  subject\r\n\tline\r\nX-Empty:\r\nX-Pad:   spaced   \r\n\r\n');
    expect(part.headers.map((field) => field.value)).toEqual(['a long  subject\tline', '', 'spaced']);
    expect(part.headers.map((field) => field.raw?.toString())).toEqual(['Subject: a long\r\n  subject\r\n\tline', 'X-Empty:', 'X-Pad:   spaced   ']);
  });

  it('records the order of all fields, the three MIME fields by name, and their raw bytes', () => {
    const part = parse('Received: one\nContent-Type: text/html;\n charset=utf-8\nX-A: a\nMIME-Version: 1.0\nReceived: two\nContent-Transfer-Encoding: 8bit\n\n<p>');
    expect(part.rawLayout?.order).toEqual([0, 'content-type', 1, 'mime-version', 2, 'content-transfer-encoding']);
    expect(part.headers.map((field) => field.name)).toEqual(['Received', 'X-A', 'Received']);
    expect(part.rawLayout?.mimeFields['content-type']?.toString()).toBe('Content-Type: text/html;\n charset=utf-8');
    expect(part.rawLayout?.mimeFields['mime-version']?.toString()).toBe('MIME-Version: 1.0');
    expect(part.rawLayout?.eol).toBe('\n');
    expect(part.rawLayout?.header?.toString()).toBe('Received: one\nContent-Type: text/html;\n charset=utf-8\nX-A: a\nMIME-Version: 1.0\nReceived: two\nContent-Transfer-Encoding: 8bit\n\n');
  });

  it('keeps encoded words as they are in value', () => {
    const part = parse('Subject: =?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?=\n =?utf-8?B?w6k=?=\n\n');
    expect(part.headers[0].value).toBe('=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?= =?utf-8?B?w6k=?=');
  });

  it('reads raw UTF-8 header text as UTF-8 and other 8-bit bytes one character per byte', () => {
    const part = parseBuffer(Buffer.concat([Buffer.from('Subject: caf\u00e9\nX-Latin: caf'), Buffer.from([0xe9]), Buffer.from('\n\n')]));
    expect(part.headers.map((field) => field.value)).toEqual(['café', 'caf\u00e9']);
    expect(part.headers[1].raw).toEqual(Buffer.from([...Buffer.from('X-Latin: caf'), 0xe9]));
  });

  it('reads a bare CR inside a field as a space, with a defect, and keeps it in raw', () => {
    const part = parse('Subject: one\rtwo\r\n\r\n');
    expect(part.headers[0].value).toBe('one two');
    expect(part.headers[0].raw?.toString()).toBe('Subject: one\rtwo');
    expect(part.defects).toEqual(['bare CR in header field Subject']);
  });

  it('ends the header at the end of input, with no body', () => {
    const part = parse('Subject: only');
    expect(part.headers[0].value).toBe('only');
    expect(bodyBytes(part.body).length).toBe(0);
    expect(part.defects).toEqual([]);
  });

  it('takes a message without header fields as all body', () => {
    const part = parse('\nbody');
    expect(part.headers).toEqual([]);
    expect(bodyBytes(part.body).toString()).toBe('body');
  });

  it('starts the body at a line that is not a field, with the defect Tcllib throws as an error', () => {
    const blah = parse('blah');
    expect(shape(blah)).toEqual({ content: 'text/plain', params: { charset: 'us-ascii' }, body: 'blah', defects: ['improper line in header: blah'] });

    // Tcllib's mime-3.5: no empty line between the header and the data.
    const missing = parse('MIME-Version: 1.0\nContent-Type: foobar\ndata without newline');
    expect(bodyBytes(missing.body).toString()).toBe('data without newline');
    expect(missing.defects).toContain('improper line in header: data without newline');
    expect(missing.defects.some((defect) => defect.startsWith('malformed Content-Type "foobar"'))).toBe(true);
    expect(missing.content).toBe('text/plain');
  });

  it('takes a continuation line with nothing to continue as the body', () => {
    const part = parse(' indented\nSubject: x\n\n');
    expect(part.headers).toEqual([]);
    expect(part.defects).toEqual(['improper line in header:  indented']);
    expect(bodyBytes(part.body).toString()).toBe(' indented\nSubject: x\n\n');
  });

  it('keeps a line with a colon but a malformed name as a field, as Tcllib does, with a defect', () => {
    const part = parse('Content-Disposition: attachment; size=138;\ncreation-date="Thu, 02 Feb 2012 13:50:05 GMT"\nX: y\n\nbody');
    expect(part.headers.map((field) => field.name)).toEqual(['Content-Disposition', 'creation-date="Thu, 02 Feb 2012 13', 'X']);
    expect(part.defects).toEqual(['malformed header field name: creation-date="Thu, 02 Feb 2012 13']);
  });

  it('accepts blanks before the colon (RFC 5322 obsolete syntax)', () => {
    const part = parse('Subject : spaced\nFrom\t: a@b.c\n\n');
    expect(part.headers.map((field) => [field.name, field.value])).toEqual([
      ['Subject', 'spaced'],
      ['From', 'a@b.c'],
    ]);
    expect(part.defects).toEqual([]);
  });

  it('skips a leading mbox From_ line but keeps it in the raw header', () => {
    const text = 'From sw@example.de  Sat Oct 20 17:58:49 2007\nFrom: Somewhere <sw@example.de>\nSubject: test\n\nbody';
    const part = parse(text);
    expect(part.headers.map((field) => field.name)).toEqual(['From', 'Subject']);
    expect(part.defects).toEqual(['mbox envelope line kept only in the raw header: From sw@example.de  Sat Oct 20 17:58:49 2007']);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('gives the body "so plain\\n" to LF header lines followed by a CRLF empty line', () => {
    const part = parse('Subject: plain\nContent-Type: text/plain\n\r\nso plain\n');
    expect(bodyBytes(part.body).toString()).toBe('so plain\n');
  });
});

describe('MIME fields', () => {
  it('defaults to text/plain; charset=us-ascii, encoding "" and version 1.0', () => {
    const part = parse('Subject: x\n\nhi');
    expect(part.content).toBe('text/plain');
    expect(Object.fromEntries(part.params)).toEqual({ charset: 'us-ascii' });
    expect(part.encoding).toBe('');
    expect(part.version).toBe('1.0');
    expect(part.rawLayout?.order).toEqual([0]);
  });

  it('keeps MIME-Version 2.0', () => {
    const part = parse('MIME-Version: 2.0\nContent-Type: text/plain\n\nmsg1');
    expect(part.version).toBe('2.0');
    expect(bodyBytes(part.body).toString()).toBe('msg1');
  });

  it('lowercases the type, the parameter names and the encoding; unquotes and unescapes values', () => {
    const part = parse('Content-Type: Text/HTML (comment); CharSet="UTF-8"; Name="a \\"quoted\\" \\\\ name"\nContent-Transfer-Encoding: Quoted-Printable (why not)\n\n');
    expect(part.content).toBe('text/html');
    expect([...part.params]).toEqual([
      ['charset', 'UTF-8'],
      ['name', 'a "quoted" \\ name'],
    ]);
    expect(part.encoding).toBe('quoted-printable');
    expect(part.defects).toEqual([]);
  });

  it('decodes RFC 2231 continuations and charset\'language\'value parameters', () => {
    const part = parse("Content-Type: application/pdf;\n name*0*=utf-8''%C3%A9t%C3%A9;\n name*1=\"-report.pdf\";\n title*=iso-8859-1'fr'%E9t%E9\n\n");
    expect(part.params.get('name')).toBe('été-report.pdf');
    expect(part.params.get('title')).toBe('été');
  });

  it('takes a bare "message" for message/rfc822, as Tcllib does, with a defect', () => {
    const part = parse('Content-Type: message\n\nSubject: inner\n\nhello');
    expect(part.content).toBe('message/rfc822');
    expect(part.defects).toEqual(['Content-Type "message" has no subtype: taken as message/rfc822']);
    expect(shape(part).parts?.[0].headers).toEqual([['Subject', 'inner']]);
  });

  it('records a malformed Content-Type and reads the part as text/plain', () => {
    for (const value of ['text', 'text/', '/plain', 'te xt/plain', 'text/plain/extra', '']) {
      const part = parse(`Content-Type: ${value}\n\nbody`);
      expect(part.content).toBe('text/plain');
      expect(Object.fromEntries(part.params)).toEqual({ charset: 'us-ascii' });
      expect(part.defects).toEqual([`malformed Content-Type ${JSON.stringify(value)}: taken as text/plain`]);
    }
  });

  it('keeps the first of two Content-Type fields, with a defect, and the second in the raw header only', () => {
    const part = parse('Content-Type: text/html\nContent-Type: image/png\nContent-Transfer-Encoding: base64\ncontent-transfer-encoding: 7bit\n\nx');
    expect(part.content).toBe('text/html');
    expect(part.encoding).toBe('base64');
    expect(part.headers).toEqual([]);
    expect(part.rawLayout?.order).toEqual(['content-type', 'content-transfer-encoding']);
    expect(part.defects).toEqual([
      'multiple Content-Type fields starting with Content-Type: image/png; the first one counts',
      'multiple Content-Transfer-Encoding fields starting with content-transfer-encoding: 7bit; the first one counts',
    ]);
    expect(part.rawLayout?.header?.toString()).toContain('Content-Type: image/png\n');
  });

  it('keeps an unknown transfer encoding, lowercased, with a defect', () => {
    const part = parse('Content-Transfer-Encoding: X-UUEncode\n\nbegin 644 x');
    expect(part.encoding).toBe('x-uuencode');
    expect(part.defects).toEqual(['unknown Content-Transfer-Encoding "X-UUEncode": the body is kept as it is']);
  });

  it('keeps Content-MD5 as an ordinary field (Tcllib drops it)', () => {
    const part = parse('Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nCheck Integrity!');
    expect(part.headers).toEqual([expect.objectContaining({ name: 'Content-MD5', value: 'Q2hlY2sgSW50ZWdyaXR5IQ==' })]);
  });
});

describe('multipart', () => {
  it('splits Multipart/foo; boundary="bar" into part1, part2, part3', () => {
    const part = parse(
      'MIME-Version: 1.0\nContent-Type: Multipart/foo; boundary="bar"\n\n--bar\nMIME-Version: 1.0\nContent-Type: Text/plain\n\npart1\n--bar\nMIME-Version: 1.0\nContent-Type: Text/plain\n\npart2\n--bar\nMIME-Version: 1.0\nContent-Type: Text/plain\n\npart3\n--bar--\n',
    );
    expect(part.content).toBe('multipart/foo');
    expect(shape(part).parts?.map((child) => [child.content, child.body])).toEqual([
      ['text/plain', 'part1'],
      ['text/plain', 'part2'],
      ['text/plain', 'part3'],
    ]);
    expect(part.defects).toEqual([]);
    expect(allParts(part).every((each) => each.parsed)).toBe(true);
  });

  it('keeps preamble, delimiters and epilogue exactly', () => {
    const text = 'Content-Type: multipart/mixed; boundary=b\r\n\r\nThis is a preamble.\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nan epilogue\r\n';
    const part = parse(text);
    expect(part.preamble?.toString()).toBe('This is a preamble.\r\n');
    expect(part.epilogue?.toString()).toBe('\r\nan epilogue\r\n');
    expect(part.rawLayout?.delimiters?.map(String)).toEqual(['--b\r\n', '\r\n--b\r\n', '\r\n--b--']);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('has no preamble when the body starts with the first delimiter, and an empty epilogue when the close delimiter ends the input', () => {
    const part = parse('Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--');
    expect(part.preamble).toBeUndefined();
    expect(part.epilogue).toEqual(Buffer.alloc(0));
    expect(shape(part).parts?.[0].body).toBe('one');
  });

  it('accepts transport padding after a delimiter (Tcllib loses the part)', () => {
    const text = 'Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\none\n--b  \n\ntwo\n--b-- \n';
    const part = parse(text);
    expect(shape(part).parts?.map((child) => child.body)).toEqual(['one', 'two']);
    expect(part.defects).toEqual([]);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('does not take a line that merely starts with the boundary for a delimiter', () => {
    const part = parse('Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n--b--x\n --b\n--b--\n');
    expect(shape(part).parts?.map((child) => child.body)).toEqual(['--bx\n--b--x\n --b']);
  });

  it('records a missing close delimiter and lets the last part run to the end', () => {
    const part = parse('Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n');
    expect(shape(part).parts?.map((child) => child.body)).toEqual(['one', 'two\n']);
    expect(part.defects).toEqual(['close delimiter --b-- missing in multipart/mixed: the last part runs to the end']);
    expect(part.epilogue).toBeUndefined();
  });

  it('keeps a multipart without boundary as a leaf, with a defect', () => {
    const part = parse('Content-Type: multipart/mixed\n\n--b\n\none\n--b--\n');
    expect(part.body.kind).toBe('parsed');
    expect(part.defects).toEqual(['boundary parameter is missing in multipart/mixed: the body is kept as one leaf']);
  });

  it('keeps a multipart without any delimiter as a leaf, with a defect', () => {
    const part = parse('Content-Type: multipart/mixed; boundary=zz\n\n--b\n\none\n--b--\n');
    expect(part.body.kind).toBe('parsed');
    expect(part.defects).toEqual(['no delimiter --zz found in multipart/mixed: the body is kept as one leaf']);
  });

  it('parses nested multiparts whose boundaries share a prefix', () => {
    const text = crlf(
      'Content-Type: multipart/mixed; boundary="outer"\n\n--outer\nContent-Type: multipart/alternative; boundary="outer-inner"\n\n--outer-inner\nContent-Type: text/plain\n\nplain\n--outer-inner\nContent-Type: text/html\n\n<b>html</b>\n--outer-inner--\n\n--outer\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n--outer--\n',
    );
    const part = parse(text);
    const tree = shape(part);
    expect(tree.parts?.map((child) => child.content)).toEqual(['multipart/alternative', 'application/octet-stream']);
    expect(tree.parts?.[0].parts?.map((child) => [child.content, child.body])).toEqual([
      ['text/plain', 'plain'],
      ['text/html', '<b>html</b>'],
    ]);
    expect(tree.parts?.[0].parts?.[1].body).toBe('<b>html</b>');
    expect(tree.parts?.[1]).toMatchObject({ encoding: 'base64', body: 'AAEC' });
    expect(allParts(part).flatMap((each) => each.defects)).toEqual([]);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('gives the parts of a multipart/digest message/rfc822 as their default type', () => {
    const part = parse('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nsecond\n--d--\n');
    const tree = shape(part);
    expect(tree.parts?.map((child) => child.content)).toEqual(['message/rfc822', 'text/plain']);
    expect(tree.parts?.[0].parts?.[0]).toMatchObject({ headers: [['Subject', 'one']], body: 'first' });
  });

  it('records a transfer encoding on a multipart but still splits it', () => {
    const part = parse('Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\n\none\n--b--\n');
    expect(part.body.kind).toBe('parts');
    expect(part.defects).toEqual(['multipart/mixed may not have Content-Transfer-Encoding base64 (RFC 2045 section 6.4)']);
  });

  it('gives consecutive delimiters an empty part between them', () => {
    const text = 'Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\ntwo\n--b--\n';
    const part = parse(text);
    expect(shape(part).parts?.map((child) => child.body)).toEqual(['', 'two']);
    expect(reassemble(part).toString()).toBe(text);
  });
});

describe('message/*', () => {
  it('holds one part parsed from a 7bit message/rfc822 body', () => {
    const text = 'Content-Type: message/rfc822\n\nFrom: a@b.c\nSubject: inner\nContent-Type: text/plain; charset=utf-8\n\nhello\n';
    const part = parse(text);
    const tree = shape(part);
    expect(tree.parts).toEqual([{ content: 'text/plain', params: { charset: 'utf-8' }, headers: [['From', 'a@b.c'], ['Subject', 'inner']], body: 'hello\n' }]);
    expect(part.rawBody).toBeUndefined();
    expect(reassemble(part).toString()).toBe(text);
  });

  it('decodes a base64 delivery status report and finds Remote-MTA in its part (Tcllib mime-12.0)', () => {
    const text = [
      'Content-Type: message/delivery-status; name="deliverystatus.txt"',
      'Content-Disposition: attachment; filename="deliverystatus.txt"; size=138;',
      'creation-date="Thu, 02 Feb 2012 13:50:05 GMT";',
      'modification-date="Thu, 02 Feb 2012 13:50:05 GMT"',
      'Content-Description: deliverystatus.txt',
      'Content-Transfer-Encoding: base64',
      '',
      'T3JpZ2luYWwtUmVjaXBpZW50OiA8L2ZheD1ibHViYkBndW1taS5ib290PgpBY3Rpb246IGZhaWxl',
      'ZApEaWFnbm9zdGljLUNvZGU6IHNtdHA7IDU1MCAjNS4xLjAgQWRkcmVzcyByZWplY3RlZC4KUmVt',
      'b3RlLU1UQTogNTMuMjQuMjgyLjE1MA==',
      '',
    ].join('\n');
    const part = parse(text);
    expect(part.content).toBe('message/delivery-status');
    expect(part.encoding).toBe('base64');
    expect(part.body.kind).toBe('parts');
    const child = part.body.kind === 'parts' ? part.body.parts[0] : undefined;
    expect(child?.headers.find((field) => field.name === 'Remote-MTA')?.value).toBe('53.24.282.150');
    expect(child?.headers.find((field) => field.name === 'Action')?.value).toBe('failed');
    // The encoded body stays for the round trip.
    expect(part.rawBody && bodyBytes(part.rawBody).toString()).toMatch(/^T3Jp[\s\S]*MA==\n$/);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('decodes a quoted-printable message/rfc822 body', () => {
    const part = parse('Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\nSubject: caf=C3=A9 is a very long subject that is softly=\n broken\n\nbody=3D\n');
    const child = part.body.kind === 'parts' ? part.body.parts[0] : undefined;
    expect(child?.headers[0].value).toBe('café is a very long subject that is softly broken');
    expect(child && bodyBytes(child.body).toString()).toBe('body=\n');
  });
});

describe('leaf bodies', () => {
  it('keeps the body bytes exactly, transfer encoding and bare CRs included', () => {
    const body = Buffer.from([0x00, 0x0d, 0x41, 0x0d, 0x0a, 0xff, 0x0a]);
    const data = Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\n\r\n'), body]);
    const part = parseBuffer(data);
    expect(part.body).toEqual({ kind: 'parsed', data: body });
    expect(reassemble(part)).toEqual(data);
  });

  it('shares memory with the input instead of copying bodies', () => {
    const data = Buffer.from('Subject: x\n\n' + 'y'.repeat(1000));
    const part = parseBuffer(data);
    expect(part.body.kind === 'parsed' && part.body.data.buffer).toBe(data.buffer);
  });
});
