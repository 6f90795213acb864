/**
 * A leading U+FEFF is a character of the text (a zero-width no-break space):
 * no byte-to-text step may drop it. TextDecoder and iconv-lite both strip it
 * by default; only unmarked UTF-16 and UTF-32 read it as their byte order mark
 * (RFC 2781 section 3.3), which is not text.
 */
import fc from 'fast-check';
import * as mime from '../../../mime';
import { bytesToText, decodeCharset, encodeCharset } from '../../../mime/codec/charsets';
import { qpDecodeBytes } from '../../../mime/codec/qp';

const BOM = '\uFEFF';

describe('a leading U+FEFF survives every decode', () => {
  it('qp_decode(qp_encode(text)) keeps it (the round trip that lost it)', () => {
    expect(mime.qp_decode(mime.qp_encode(`${BOM}abc`))).toBe(`${BOM}abc`);
    expect(mime.qp_decode(mime.qp_encode(`${BOM}abc`, 1), 1)).toBe(`${BOM}abc`);
  });

  it('round-trips any text that starts with U+FEFF (fixed seed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.integer({ min: 1, max: 3 }), (rest, marks) => {
        const text = BOM.repeat(marks) + rest;
        expect(mime.qp_decode(mime.qp_encode(text))).toBe(text);
        expect(mime.qp_decode(mime.qp_encode(text, 1), 1)).toBe(text);
        expect(bytesToText(Buffer.from(text, 'utf8'))).toBe(text);
        expect(decodeCharset(Buffer.from(text, 'utf8'), 'UTF-8')).toBe(text);
      }),
      { numRuns: 300, seed: 1405 },
    );
  });

  it('decodes it in every charset that can carry it, and reads unmarked UTF-16 and UTF-32 marks as byte order', () => {
    expect(decodeCharset(Buffer.from([0xef, 0xbb, 0xbf, 0x61]), 'utf-8')).toBe(`${BOM}a`);
    expect(decodeCharset(Buffer.from([0xfe, 0xff, 0x00, 0x61]), 'UTF-16BE')).toBe(`${BOM}a`);
    expect(decodeCharset(Buffer.from([0xff, 0xfe, 0x61, 0x00]), 'UTF-16LE')).toBe(`${BOM}a`);
    expect(decodeCharset(Buffer.from([0xfe, 0xff, 0x00, 0x61]), 'UTF-16')).toBe('a');
    expect(decodeCharset(encodeCharset(`${BOM}a`, 'UTF-16'), 'UTF-16')).toBe(`${BOM}a`);
    expect(decodeCharset(encodeCharset(`${BOM}a`, 'UTF-16BE'), 'UTF-16BE')).toBe(`${BOM}a`);
    expect(decodeCharset(Buffer.from([0x00, 0x00, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x61]), 'UTF-32BE')).toBe(`${BOM}a`);
  });

  it('keeps it in encoded words and in header values read from bytes', () => {
    expect(mime.field_decode(mime.word_encode('utf-8', 'base64', `${BOM}Grüße`, { charset_encoded: false }))).toBe(`${BOM}Grüße`);
    expect(mime.field_decode(mime.word_encode('utf-8', 'quoted-printable', `${BOM}Grüße`, { charset_encoded: false }))).toBe(`${BOM}Grüße`);
    expect(mime.field_decode('=?UTF-16BE?B?/v8AYQ==?=')).toBe(`${BOM}a`);
    const tok = mime.initialize('-string', Buffer.from(`Subject: ${BOM}x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${BOM}body\r\n`, 'utf8'));
    expect(mime.getheader(tok, 'Subject')).toEqual([`${BOM}x`]);
    expect(mime.getbody(tok, { decode: true })).toBe(`${BOM}body\r\n`);
    mime.finalize(tok);
  });

  it('keeps it in a quoted-printable body read with getbody -decode', () => {
    const tok = mime.initialize('-string', `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=EF=BB=BFbody\r\n`);
    expect(mime.getbody(tok, { decode: true })).toBe(`${BOM}body\r\n`);
    mime.finalize(tok);
  });
});

describe('one quoted-printable decoder', () => {
  it('an enclosed message sent as quoted-printable is decoded as qp_decode decodes: trailing blanks go (RFC 2045 rule 3)', () => {
    const encoded = 'Subject: inner\r\n\r\nline with blanks   \r\nsoft=  \r\nbreak =3D\r\n';
    const outer = [
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      encoded.replace(/\r\n$/, ''),
      '--b--',
      '',
    ].join('\r\n');
    const tok = mime.initialize('-string', outer);
    const [attached] = mime.getproperty(tok, 'parts');
    const [inner] = mime.getproperty(attached, 'parts');
    expect(mime.getheader(inner, 'Subject')).toEqual(['inner']);
    const innerBody = String(mime.getbody(inner));
    expect(innerBody).toBe('line with blanks\r\nsoftbreak =');
    expect(`Subject: inner\r\n\r\n${innerBody}`).toBe(qpDecodeBytes(encoded.replace(/\r\n$/, '')).toString('latin1'));
    mime.finalize(tok);
  });
});
