import fc from 'fast-check';
import { MimeError, OptionError } from '../../../lib/errors';
import { qp_decode, qp_encode, qpDecodeBytes, qpEncodeBytes } from '../../../mime/codec/qp';
import { field_decode, word_decode, word_encode } from '../../../mime/codec/words';
import {
  decodeCharset,
  encodeCharset,
  isSupportedCharset,
  mapencoding,
  reversemapencoding,
  tclEncodings,
} from '../../../mime/codec/charsets';

const SPECIALS = '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ';

describe('qp_encode', () => {
  it('escapes the EBCDIC-unsafe characters and =, soft-breaks after 73 characters, and protects a trailing space', () => {
    const encoded = qp_encode(SPECIALS);
    expect(encoded).toBe(
      '=21=22=23=24%&\'()*+,-./0123456789:;<=3D>?=40ABCDEFGHIJKLMNOPQRSTUVWXYZ=5B=\n' +
        '=5C=5D=5E_=60abcdefghijklmnopqrstuvwxyz=7B=7C=7D=7E=20',
    );
    expect(qp_decode(encoded)).toBe(SPECIALS);
  });

  it('breaks abc x 40 after 73 characters, and keeps it whole with no_softbreak', () => {
    const text = 'abc'.repeat(40);
    expect(qp_encode(text)).toBe(`${text.slice(0, 73)}=\n${text.slice(73)}`);
    expect(qp_encode(text, 0, 1)).toBe(text);
  });

  it('never splits an =XX escape across a soft break', () => {
    for (let prefix = 68; prefix <= 74; prefix++) {
      const text = 'x'.repeat(prefix) + '=====';
      const lines = qp_encode(text).split('\n');
      for (const line of lines) expect(line).toMatch(/^(?:[^=]|=[0-9A-F]{2})*=?$/);
      expect(qp_decode(qp_encode(text))).toBe(text);
    }
  });

  it('encodes =, _ and ? in encoded-word mode, writes a space as _, and never soft-breaks there (fixed)', () => {
    expect(qp_encode('a=b_c?d e', 1)).toBe('a=3Db=5Fc=3Fd_e');
    const long = 'word '.repeat(40);
    const encoded = qp_encode(long, true);
    expect(encoded).not.toMatch(/[\r\n]/);
    expect(qp_decode(encoded, true)).toBe(long);
  });

  it('keeps encoded words valid in a phrase: only letters, digits and *+-/ stay literal (RFC 2047 section 5)', () => {
    expect(qp_encode('a(b),c.d:e;f<g>h"i@j', 1)).toBe('a=28b=29=2Cc=2Ed=3Ae=3Bf=3Cg=3Eh=22i=40j');
    expect(qp_encode('1*2+3-4/5', 1)).toBe('1*2+3-4/5');
  });

  it('never merges a lone-dot line into the line before it (fixed)', () => {
    expect(qp_encode('a\n.\nb')).toBe('a\n=2E\nb');
    expect(qp_decode(qp_encode('a\n.\nb'))).toBe('a\n.\nb');
    expect(qp_encode('.')).toBe('=2E');
    expect(qp_encode('.\nx\n.')).toBe('=2E\nx\n=2E');
    expect(qp_encode('..\n.x')).toBe('..\n.x');
  });

  it('protects From at the start of every line, the first one included (fix)', () => {
    expect(qp_encode('From me\nFrom you')).toBe('=46rom me\n=46rom you');
    expect(qp_encode('Fromage\n From')).toBe('Fromage\n From');
  });

  it('protects trailing white space before each line break and at the end', () => {
    expect(qp_encode('a \nb\t\nc  ')).toBe('a=20\nb=09\nc =20');
  });

  it('takes a string as UTF-8 text and a Buffer byte for byte', () => {
    expect(qp_encode('café')).toBe('caf=C3=A9');
    expect(qp_encode('中')).toBe('=E4=B8=AD');
    expect(qp_encode(Buffer.from('café', 'latin1'))).toBe('caf=E9');
    expect(qp_encode(Buffer.from([0, 0x1f, 0x7f, 0xff]))).toBe('=00=1F=7F=FF');
  });

  it('keeps CR LF line breaks as they are and escapes a bare CR', () => {
    expect(qp_encode('a \r\nb\rc')).toBe('a=20\r\nb=0Dc');
    expect(qp_decode('a=20\r\nb=0Dc')).toBe('a \r\nb\rc');
  });

  it('refuses a string with a lone surrogate instead of writing U+FFFD', () => {
    expect(() => qp_encode('a\ud800b')).toThrow(MimeError);
  });

  it('reads its flags as Tcl booleans through the option parser', () => {
    expect(qp_encode('a b', 'yes')).toBe('a_b');
    expect(qp_encode('a b', 'false')).toBe('a b');
    expect(() => qp_encode('a b', 'maybe')).toThrow(OptionError);
  });
});

describe('qp_decode', () => {
  it('removes soft breaks after = LF and = CR LF (fix)', () => {
    expect(qp_decode('ab=\ncd=\r\nef')).toBe('abcdef');
  });

  it('drops white space at line ends, also between = and the line break', () => {
    expect(qp_decode('a  \nb\t\r\nc= \t\nd  ')).toBe('a\nb\r\ncd');
  });

  it('decodes hex in either case and leaves an invalid escape as it is', () => {
    expect(qp_decode('=41=4a=4A =ZZ =4 x=')).toBe('AJJ =ZZ =4 x=');
  });

  it('never lets an escape reach across a soft break', () => {
    expect(qp_decode('a==\n41')).toBe('a=41');
  });

  it('reads _ as a space only in encoded-word mode', () => {
    expect(qp_decode('a_b=5F', 1)).toBe('a b_');
    expect(qp_decode('a_b', 0)).toBe('a_b');
  });

  it('returns UTF-8 text when the bytes are UTF-8, else one character per byte as Tcllib does', () => {
    expect(qp_decode('caf=C3=A9')).toBe('café');
    expect(qp_decode('caf=E9')).toBe('café');
    expect(qpDecodeBytes('caf=E9')).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  });
});

describe('quoted-printable properties', () => {
  it('decodes what it encodes, byte for byte, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, whole) => {
        const encoded = qpEncodeBytes(bytes, false, whole);
        expect(qpDecodeBytes(encoded)).toEqual(Buffer.from(bytes));
        expect(qpDecodeBytes(qpEncodeBytes(bytes, true), true)).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes what it encodes for any Unicode text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        expect(qp_decode(qp_encode(text))).toBe(text);
        expect(qp_decode(qp_encode(text, 1), 1)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('writes lines of at most 76 characters, printable ASCII, no trailing white space, no lone dot, no From', () => {
    const lineish = fc.string({ unit: fc.constantFrom('a', ' ', '\t', '.', '=', 'F', 'r', 'o', 'm', '\n', '\r', 'é', '\x00'), maxLength: 400 });
    fc.assert(
      fc.property(lineish, (text) => {
        const encoded = qp_encode(text);
        for (const line of encoded.split(/\r?\n/)) {
          expect(line.length).toBeLessThanOrEqual(76);
          expect(line).toMatch(/^[\x21-\x7e \t]*$/);
          expect(line).not.toMatch(/[ \t]$/);
          expect(line).not.toBe('.');
          expect(line.startsWith('From ')).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('word_encode', () => {
  const text = 'Test de contr\xf4le effectu\xe9';

  it('gives Tcllib\'s words for Latin-1 bytes', () => {
    expect(word_encode('iso8859-1', 'quoted-printable', text)).toBe('=?ISO-8859-1?Q?Test_de_contr=F4le_effectu=E9?=');
    expect(word_encode('iso8859-1', 'base64', text)).toBe('=?ISO-8859-1?B?VGVzdCBkZSBjb250cvRsZSBlZmZlY3R16Q==?=');
  });

  it('splits into words of at most maxlength, joined by a space', () => {
    const words = word_encode('iso8859-1', 'quoted-printable', text, '-maxlength', 31).split(' ');
    expect(words).toEqual(['=?ISO-8859-1?Q?Test_de_contr?=', '=?ISO-8859-1?Q?=F4le_effectu?=', '=?ISO-8859-1?Q?=E9?=']);
    for (const word of words) expect(word.length).toBeLessThanOrEqual(31);
  });

  it('takes options as an object or as a Tcl flat list', () => {
    const flat = word_encode('utf-8', 'quoted-printable', 'は', '-charset_encoded', 0, '-maxlength', 30);
    const object = word_encode('utf-8', 'quoted-printable', 'は', { charset_encoded: false, maxlength: 30 });
    expect(flat).toBe('=?UTF-8?Q?=E3=81=AF?=');
    expect(object).toBe(flat);
    expect(() => word_encode('utf-8', 'base64', 'x', '-bogus', 1)).toThrow(OptionError);
    expect(() => word_encode('utf-8', 'base64', 'x', '-maxlength')).toThrow(OptionError);
  });

  it('refuses a maxlength too short for one character', () => {
    expect(() => word_encode('utf-8', 'quoted-printable', 'は', { charset_encoded: false, maxlength: 17 })).toThrow(
      'maxlength 17 too short for chosen charset and encoding',
    );
    expect(() => word_encode('utf-8', 'base64', 'x', { maxlength: 10 })).toThrow('maxlength 10 too short');
  });

  it('never splits a multibyte character between words', () => {
    const cjk = '中文字符のテスト😀混在 text'.repeat(3);
    for (const method of ['base64', 'quoted-printable']) {
      for (const maxlength of [24, 25, 33, 66]) {
        const words = word_encode('utf-8', method, cjk, { charset_encoded: false, maxlength }).split(' ');
        for (const word of words) {
          expect(word.length).toBeLessThanOrEqual(maxlength);
          expect(field_decode(word)).not.toContain('\ufffd');
        }
        expect(field_decode(words.join(' '))).toBe(cjk);
      }
    }
  });

  it('names Tcllib\'s errors for an unknown charset, a charset with no MIME name, and a bad method', () => {
    expect(() => word_encode('UTF-8', 'base64', 'x')).toThrow("unknown charset 'UTF-8'");
    expect(() => word_encode('unicode', 'base64', 'x')).toThrow("invalid charset 'unicode'");
    expect(() => word_encode('utf-8', 'B', 'x')).toThrow("unknown method 'B', must be base64 or quoted-printable");
  });

  it('throws instead of truncating a character above U+00FF in byte mode (fix)', () => {
    expect(() => word_encode('iso8859-1', 'base64', 'a中')).toThrow(/charset_encoded 0/);
  });

  it('throws for bytes that are not valid in the charset, and for a character the charset lacks', () => {
    expect(() => word_encode('utf-8', 'base64', '\xe9')).toThrow(MimeError);
    expect(() => word_encode('iso8859-1', 'base64', '中', { charset_encoded: false })).toThrow(/U\+4E2D cannot be written/);
  });

  it('gives an empty string for empty text', () => {
    expect(word_encode('utf-8', 'base64', '')).toBe('');
  });

  it('reads UTF-8 bytes given as a byte string or a Buffer', () => {
    const bytes = Buffer.from('Hürz', 'utf8');
    expect(word_encode('utf-8', 'quoted-printable', bytes.toString('latin1'))).toBe('=?UTF-8?Q?H=C3=BCrz?=');
    expect(word_encode('utf-8', 'quoted-printable', bytes)).toBe('=?UTF-8?Q?H=C3=BCrz?=');
  });

  it('writes ISO-2022-JP, which iconv-lite lacks', () => {
    const word = word_encode('iso2022-jp', 'base64', 'は漢字', { charset_encoded: false });
    expect(word).toMatch(/^=\?ISO-2022-JP\?B\?/);
    expect(field_decode(word)).toBe('は漢字');
  });
});

describe('word_decode', () => {
  it('returns the Tcl encoding, the method and the octets as a byte string', () => {
    expect(word_decode('=?ISO-8859-1?Q?Test_de_contr=F4le_effectu=E9?=')).toEqual([
      'iso8859-1',
      'quoted-printable',
      'Test de contr\xf4le effectu\xe9',
    ]);
    expect(word_decode('x =?utf-8?b?w6k=?= y')).toEqual(['utf-8', 'base64', '\xc3\xa9']);
  });

  it('accepts an RFC 2231 language suffix (fix)', () => {
    expect(word_decode('=?US-ASCII*EN?Q?Keith_Moore?=')).toEqual(['ascii', 'quoted-printable', 'Keith Moore']);
  });

  it('names what is wrong', () => {
    expect(() => word_decode('no word here')).toThrow("malformed word-encoded expression 'no word here'");
    expect(() => word_decode('=?x-bogus?Q?a?=')).toThrow("unknown charset 'x-bogus'");
    expect(() => word_decode('=?utf-8?X?a?=')).toThrow("unknown method 'X', must be B or Q");
  });
});

describe('field_decode', () => {
  it('follows the examples of RFC 2047 section 8', () => {
    expect(field_decode('(=?ISO-8859-1?Q?a?=)')).toBe('(a)');
    expect(field_decode('(=?ISO-8859-1?Q?a?= b)')).toBe('(a b)');
    expect(field_decode('(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)')).toBe('(ab)');
    expect(field_decode('(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)')).toBe('(ab)');
    expect(field_decode('(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)')).toBe('(ab)');
    expect(field_decode('(=?ISO-8859-1?Q?a_b?=)')).toBe('(a b)');
    expect(field_decode('(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)')).toBe('(a b)');
    expect(field_decode('(=?utf-8?Q?H=C3=BCrz?=)')).toBe('(Hürz)');
  });

  it('joins a character split across two words of the same charset (fix)', () => {
    expect(field_decode('=?utf-8?Q?H=C3?= =?UTF-8?Q?=BCrz?=')).toBe('Hürz');
    expect(field_decode('=?utf-8?B?5Lit?= =?utf-8?B?5paH?=')).toBe('中文');
  });

  it('keeps white space that is not between two encoded words', () => {
    expect(field_decode(' =?utf-8?Q?a?= x  =?utf-8?Q?b?=  ')).toBe(' a x  b  ');
  });

  it('leaves a word in an unknown charset as it is instead of failing (fix)', () => {
    expect(field_decode('=?x-bogus?Q?a?= =?utf-8?Q?b?=')).toBe('=?x-bogus?Q?a?= b');
    expect(field_decode('=?utf-7?Q?+ADw-?=')).toBe('=?utf-7?Q?+ADw-?=');
  });

  it('decodes what word_encode writes, for any Unicode text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.constantFrom('base64', 'quoted-printable'),
        fc.integer({ min: 24, max: 90 }),
        (text, method, maxlength) => {
          const encoded = word_encode('utf-8', method, text, { charset_encoded: false, maxlength });
          expect(encoded).not.toMatch(/[\r\n]/);
          for (const word of encoded === '' ? [] : encoded.split(' ')) expect(word.length).toBeLessThanOrEqual(maxlength);
          expect(field_decode(encoded)).toBe(text);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('mapencoding and reversemapencoding', () => {
  it('map Tcl names to MIME names exactly as written, as Tcl names encodings', () => {
    expect(mapencoding('cp1252')).toBe('Windows-1252');
    expect(mapencoding('utf-8')).toBe('UTF-8');
    expect(mapencoding('UTF-8')).toBe('');
    expect(mapencoding('unicode')).toBe('');
    expect(mapencoding('__proto__')).toBe('');
  });

  it('map MIME names and aliases back in any case', () => {
    expect(mapencoding(reversemapencoding('US-ASCII'))).toBe('US-ASCII');
    expect(mapencoding(reversemapencoding('UTF8'))).toBe('UTF-8');
    expect(reversemapencoding('LATIN1')).toBe('iso8859-1');
    expect(reversemapencoding('windows-1252')).toBe('cp1252');
    expect(reversemapencoding('cp-is')).toBe('cp861');
    expect(reversemapencoding('x-bogus')).toBe('');
    expect(reversemapencoding('constructor')).toBe('');
  });

  it('send every MIME name of the table back to its Tcl name', () => {
    const named = tclEncodings().filter(([, mime]) => mime !== '');
    expect(named.length).toBe(58);
    for (const [tcl, mime] of named) expect(reversemapencoding(mime)).toBe(tcl);
  });
});

describe('decodeCharset and encodeCharset', () => {
  it('convert through iconv-lite, with exact Latin-1', () => {
    expect(decodeCharset(Buffer.from([0x46, 0x72, 0x61, 0x6e, 0xe7, 0x6f, 0x69, 0x73]), 'ISO-8859-1')).toBe('François');
    expect(decodeCharset(Buffer.from([0x80]), 'iso-8859-1')).toBe('\u0080');
    expect(decodeCharset(Buffer.from([0x80]), 'windows-1252')).toBe('€');
    expect(encodeCharset('€', 'Windows-1252')).toEqual(Buffer.from([0x80]));
    expect(decodeCharset(Buffer.from([0xa4, 0xcf]), 'EUC-JP')).toBe('は');
    expect(encodeCharset('は', 'Shift_JIS')).toEqual(Buffer.from([0x82, 0xcd]));
  });

  it('resolve Tcllib\'s aliases and odd names', () => {
    expect(decodeCharset(Buffer.from([0xe9]), 'l1')).toBe('é');
    expect(decodeCharset(Buffer.from([0xe9]), 'win-1252')).toBe('é');
    expect(isSupportedCharset('greek8')).toBe(true);
  });

  it('round-trip ISO-2022-JP', () => {
    const bytes = encodeCharset('はい、漢字', 'ISO-2022-JP');
    expect(bytes.includes(0x1b)).toBe(true);
    expect(decodeCharset(bytes, 'iso-2022-jp')).toBe('はい、漢字');
  });

  it('throw a MimeError EENCODING for an unknown or refused charset', () => {
    for (const name of ['x-bogus', 'utf-7', 'base64', '']) {
      expect(() => decodeCharset(Buffer.from('a'), name)).toThrow(MimeError);
      expect(isSupportedCharset(name)).toBe(false);
    }
    try {
      encodeCharset('a', 'x-bogus');
      throw new Error('not thrown');
    } catch (error) {
      expect((error as MimeError).code).toBe('EENCODING');
    }
  });

  it('refuse a character the charset cannot hold rather than writing ?', () => {
    expect(() => encodeCharset('a中', 'ISO-8859-1')).toThrow(/U\+4E2D cannot be written in ISO-8859-1/);
    expect(() => encodeCharset('é', 'US-ASCII')).toThrow(/U\+00E9/);
    expect(encodeCharset('a?b', 'ISO-8859-1')).toEqual(Buffer.from('a?b'));
  });
});
