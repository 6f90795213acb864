/**
 * The mime utility commands against real Tcllib: the same inputs through
 * tclsh + Tcllib mime 1.7.0 and through tclmail, compared. Where tclmail
 * differs on purpose (docs/differences-from-tcllib.md), the last block shows both sides.
 */
import { describeWithTcllib, runTcl, tclQuote } from '../../support/tcl';
import { type AddressInfo, parseaddress } from '../../../mime/address';
import { qp_decode, qp_encode, qpDecodeBytes } from '../../../mime/codec/qp';
import { field_decode, word_decode, word_encode } from '../../../mime/codec/words';
import { mapencoding, reversemapencoding } from '../../../mime/codec/charsets';
import { parsedatetime } from '../../../mime/codec/datetime';
import type { TclWords } from '../../../lib/options';

/** A Tcl word for any BMP text: Tcl reads the script as ASCII, so other characters go as \uXXXX. */
function word(text: string): string {
  return tclQuote(text).replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const PRELUDE = `
fconfigure stdout -translation binary
proc emit {s} { puts [binary encode hex [encoding convertto utf-8 $s]] }
proc bytes {s} { binary encode hex [encoding convertto iso8859-1 $s] }
proc attempt {script} { if {[catch {uplevel 1 $script} r]} { emit "ERROR: $r" } else { emit $r } }
`;

/** Runs Tcl lines that each `emit` one value, and returns the values in order. */
function tcl(lines: string[], env?: NodeJS.ProcessEnv): string[] {
  const out = runTcl(PRELUDE + lines.join('\n'), { env }).toString('latin1');
  const values = out.split('\n');
  values.pop(); // after the last newline
  return values.map((hex) => Buffer.from(hex, 'hex').toString('utf8'));
}

function ours(fn: () => unknown): string {
  try {
    const value = fn();
    return Array.isArray(value) ? value.join(' ') : String(value);
  } catch (error) {
    return `ERROR: ${(error as Error).message}`;
  }
}

const KEYS: Array<keyof AddressInfo> = ['address', 'comment', 'domain', 'error', 'friendly', 'group', 'local', 'memberP', 'phrase', 'proper', 'route'];

describeWithTcllib('differential: the mime utility commands against Tcllib 1.21', () => {
  it('qp_encode gives Tcllib\'s bytes for ASCII text and Latin-1 byte strings', () => {
    const long = (n: number, tail: string) => 'x'.repeat(n) + tail;
    const texts = [
      '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ ',
      'abc'.repeat(40),
      'line one \nline two\t\nmid\nFrom here\nnot From here\nend',
      'tab\there and there\t',
      'two\n\nblank lines\n\n',
      'a\rb',
      ...[60, 69, 70, 71, 72, 74, 75, 80, 100, 140].map((n) => long(n, '=@[]{}|~!x' + 'y'.repeat(40))),
      ...[70, 71, 72].map((n) => long(n, '===')),
      'word '.repeat(50),
      '\x00\x01\x02\x07\x08\x0b\x0c\x0e\x1e\x7f',
      '..\n.x\nx.\n. \n',
      'caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xa0',
    ];
    const lines: string[] = [];
    for (const text of texts) {
      lines.push(`emit [mime::qp_encode ${word(text)}]`, `emit [mime::qp_encode ${word(text)} 0 1]`);
    }
    const wordTexts = ['hello world', 'under_score?and=equals\tand tab', 'caf\xe9 \xe0 la cr\xe8me', 'MiXeD 123 +-*/'];
    for (const text of wordTexts) lines.push(`emit [mime::qp_encode ${word(text)} 1]`);
    const expected = tcl(lines);
    const actual: string[] = [];
    for (const text of texts) {
      const bytes = Buffer.from(text, 'latin1');
      actual.push(qp_encode(bytes), qp_encode(bytes, 0, 1));
    }
    for (const text of wordTexts) actual.push(qp_encode(Buffer.from(text, 'latin1'), 1));
    expect(actual).toEqual(expected);
  });

  it('qp_decode gives Tcllib\'s bytes', () => {
    const cases: Array<[string, number]> = [
      ['a=41=4a=4A', 0],
      ['soft=\nbreak and=  \nmore', 0],
      ['trailing   \nspace\t\nend  ', 0],
      ['=ZZ =4 =g0 x', 0],
      ['caf=E9 cr=E8me', 0],
      ['caf=C3=A9', 0],
      ['a_b=5F_c=3F', 1],
      ['=46rom x\n=2E\nlast', 0],
      ['', 0],
    ];
    const expected = tcl(cases.map(([text, mode]) => `emit [bytes [mime::qp_decode ${word(text)} ${mode}]]`));
    expect(cases.map(([text, mode]) => qpDecodeBytes(text, mode === 1).toString('hex'))).toEqual(expected);
    // The text form agrees wherever the bytes are not UTF-8 (Tcllib gives one character per byte).
    expect(qp_decode('caf=E9')).toBe('caf\xe9');
  });

  it('word_encode gives Tcllib\'s words (joined by a space instead of LF and a space)', () => {
    type Case = [charset: string, method: string, text: string, options: Array<string | number>];
    const latin = 'Test de contr\xf4le effectu\xe9';
    const cases: Case[] = [
      ['iso8859-1', 'quoted-printable', latin, []],
      ['iso8859-1', 'base64', latin, []],
      ['iso8859-1', 'quoted-printable', latin, ['-maxlength', 31]],
      ['iso8859-1', 'base64', latin, ['-maxlength', 30]],
      ['utf-8', 'quoted-printable', '\u306f', ['-charset_encoded', 0]],
      ['utf-8', 'quoted-printable', 'Grüße aus Köln', ['-charset_encoded', 0, '-maxlength', 30]],
      ['utf-8', 'base64', 'Grüße aus Köln und überall', ['-charset_encoded', 0, '-maxlength', 24]],
      ['utf-8', 'base64', 'は漢字テストです', ['-charset_encoded', 0, '-maxlength', 28]],
      ['utf-8', 'quoted-printable', 'Ελληνικά κείμενα', ['-charset_encoded', 0, '-maxlength', 40]],
      ['cp1252', 'quoted-printable', '€ Preis', ['-charset_encoded', 0]],
      ['koi8-r', 'base64', 'Привет мир', ['-charset_encoded', 0]],
      ['shiftjis', 'base64', '日本語', ['-charset_encoded', 0]],
      ['iso8859-1', 'quoted-printable', '', []],
      ['UTF-8', 'base64', 'x', []],
      ['unicode', 'base64', 'x', []],
      ['utf-8', 'B', 'x', []],
      ['utf-8', 'quoted-printable', '\u306f', ['-charset_encoded', 0, '-maxlength', 17]],
    ];
    const expected = tcl(
      cases.map(([charset, method, text, options]) => `attempt {mime::word_encode ${word(charset)} ${word(method)} ${word(text)} ${options.join(' ')}}`),
    ).map((value) => value.replace(/\n /g, ' '));
    const actual = cases.map(([charset, method, text, options]) => ours(() => word_encode(charset, method, text, ...(options as TclWords))));
    expect(actual).toEqual(expected);
  });

  it('word_encode Q words with punctuation differ only in being phrase-safe: both decode to the text', () => {
    const text = 'a(b), c.d: <e>; 100% & \'f\'';
    const [tclWord] = tcl([`emit [mime::word_encode utf-8 quoted-printable ${word(text)} -charset_encoded 0]`]);
    const ourWord = word_encode('utf-8', 'quoted-printable', text, { charset_encoded: false });
    expect(tclWord).not.toBe(ourWord);
    expect(field_decode(tclWord)).toBe(text);
    expect(field_decode(ourWord)).toBe(text);
    expect(ourWord).toMatch(/^=\?UTF-8\?Q\?[A-Za-z0-9=_*+\-/]*\?=$/);
  });

  it('word_decode gives Tcllib\'s encoding, method and octets', () => {
    const words = [
      '=?ISO-8859-1?Q?Test_de_contr=F4le_effectu=E9?=',
      '=?iso-8859-1?q?caf=e9?=',
      'before =?UTF-8?B?w6nDqA==?= after',
      '=?windows-1252?Q?=80?=',
      '=?latin1?Q?x?=',
      '=?US-ASCII?Q?Keith_Moore?=',
      'no word',
      '=?x-bogus?Q?a?=',
      '=?utf-8?X?a?=',
    ];
    const expected = tcl(
      words.map((w) => `if {[catch {mime::word_decode ${word(w)}} r]} { emit "ERROR: $r" } else { emit "[lindex $r 0] [lindex $r 1] [bytes [lindex $r 2]]" }`),
    );
    const actual = words.map((w) =>
      ours(() => {
        const [charset, method, text] = word_decode(w);
        return `${charset} ${method} ${Buffer.from(text, 'latin1').toString('hex')}`;
      }),
    );
    expect(actual).toEqual(expected);
  });

  it('field_decode gives Tcllib\'s text', () => {
    const fields = [
      '(=?ISO-8859-1?Q?a?=)',
      '(=?ISO-8859-1?Q?a?= b)',
      '(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)',
      '(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)',
      '(=?ISO-8859-1?Q?a_b?=)',
      '(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)',
      '(=?utf-8?Q?H=C3=BCrz?=)',
      'Subject: =?utf-8?B?5Lit5paH?= and =?koi8-r?B?8NLJ18XU?= too',
      'plain text only',
    ];
    const expected = tcl(fields.map((f) => `emit [mime::field_decode ${word(f)}]`));
    expect(fields.map((f) => field_decode(f))).toEqual(expected);
  });

  it('mapencoding and reversemapencoding answer as Tcllib for every name it knows', () => {
    const [tclNames, mimeNames] = tcl(['emit [lsort [array names ::mime::encodings]]', 'emit [lsort [array names ::mime::reversemap]]']).map((list) => list.split(' '));
    const probes = [...tclNames, 'UTF-8', 'Utf-8', 'identity', 'iso8859-11', 'bogus'];
    const reverseProbes = [...mimeNames, ...mimeNames.map((name) => name.toUpperCase()), 'x-bogus', 'utf-16'];
    expect(tclNames.length).toBeGreaterThan(70);
    expect(mimeNames.length).toBeGreaterThan(170);
    const expected = tcl([...probes.map((p) => `emit [mime::mapencoding ${word(p)}]`), ...reverseProbes.map((p) => `emit [mime::reversemapencoding ${word(p)}]`)]);
    expect([...probes.map(mapencoding), ...reverseProbes.map(reversemapencoding)]).toEqual(expected);
  });

  it('parsedatetime gives Tcllib\'s properties in the same local zone', () => {
    // Tcl runs in the zone this process runs in, so "local" means the same to both.
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const dates = [
      'Tue, 29 Feb 2000 21:57:00 +0000',
      '29 Feb 2000 21:57:00 +0530',
      'Fri, 01 Jan 99 10:00:00 -0500',
      'Sat, 01 Jan 05 10:00:00 +0100',
      'Thu, 1 Jan 1970 00:00:00 GMT',
      'Mon, 15 Aug 2005 15:52:01 EST',
      'Mon, 15 Aug 2005 15:52:01 PDT',
      'Sun, 6 Nov 1994 08:49:37 UT',
      'Wed, 13 Sep 2023 08:00:00 +0000 (UTC)',
      '13 Sep 2023 08:00 +0000',
      'Tue, 29 Feb 2000 21:57:00',
      'Sat, 31 Dec 2033 23:59:59 -1200',
    ];
    const properties = ['clock', 'hour', 'min', 'sec', 'mday', 'mon', 'yday', 'year', 'wday', 'weekday', 'month', 'lweekday', 'proper'];
    const lines: string[] = [];
    for (const date of dates) for (const property of properties) lines.push(`emit [mime::parsedatetime ${word(date)} ${property}]`);
    const named = dates.filter((d) => / (GMT|EST|PDT|UT)$/.test(d));
    for (const date of named) lines.push(`emit [mime::parsedatetime ${word(date)} zone]`);
    const nonSeptember = dates.filter((d) => !/Sep/.test(d));
    for (const date of nonSeptember) lines.push(`emit [mime::parsedatetime ${word(date)} lmonth]`);
    lines.push('attempt {mime::parsedatetime -now bogus}');
    const expected = tcl(lines, { TZ: zone === 'Etc/UTC' ? 'UTC' : zone });
    const actual: string[] = [];
    for (const date of dates) for (const property of properties) actual.push(String(parsedatetime(date, property)));
    for (const date of named) actual.push(String(parsedatetime(date, 'zone')));
    for (const date of nonSeptember) actual.push(String(parsedatetime(date, 'lmonth')));
    actual.push(ours(() => parsedatetime('-now', 'bogus')));
    expect(actual).toEqual(expected);
  });

  /** parseaddress through Tcllib: one record per address, the keys in KEYS order. */
  function tclParse(inputs: string[]): Array<Array<Record<string, string>>> {
    const lines = inputs.map(
      (text) => `set r [mime::parseaddress ${word(text)}]; emit [llength $r]; foreach d $r { foreach k {${KEYS.join(' ')}} { emit [dict get $d $k] } }`,
    );
    const values = tcl(lines);
    const out: Array<Array<Record<string, string>>> = [];
    let at = 0;
    for (let i = 0; i < inputs.length; i++) {
      const count = Number(values[at++]);
      const records: Array<Record<string, string>> = [];
      for (let j = 0; j < count; j++) {
        const record: Record<string, string> = {};
        for (const key of KEYS) record[key] = values[at++];
        records.push(record);
      }
      out.push(records);
    }
    return out;
  }

  function ourParse(text: string, ignore: readonly string[] = []): Array<Record<string, string>> {
    return parseaddress(text).map((info) => {
      const record: Record<string, string> = {};
      for (const key of KEYS) if (!ignore.includes(key)) record[key] = String(info[key]);
      return record;
    });
  }

  it('parseaddress gives every key as Tcllib does, outside the documented fixes', () => {
    const same: Array<[string, string[]]> = [
      ['John Doe <john@example.com>', []],
      ['j@x (John Doe)', []],
      ['<@r1,@r2:u@d>', []],
      ['u@[1.2.3.4]', []],
      ['John Q. Public <x@y>', []],
      ['Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>', []],
      ['a@b@c', []],
      ['"a@evil x"@good', []],
      ['/G=John/S=Smith/@x400.org', []],
      ['/PN=Jo/@x400.org', []],
      ['a@b,,c@d', []],
      ['"Joe Q. Public" <j@x>', []],
      ['a.b@c.d', []],
      ['Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>', []],
      ['a . b @ c . d', []],
      ['g: a@b;', []],
      ['g: a@b;, e@f', []],
      ['undisclosed-recipients:;', []],
      ['"quoted local"@example.com', []],
      ['Name <a@b> (c)', []],
      ['a(c)@b', []],
      ['a@b (c), (d) e@f', []],
      ['@r:a@b', []],
      ['<a@b>, <c@d>', []],
      ['a@b (x (nested) y)', []],
      ['ö <ö@ü.de>', []],
      ['x@y;', []],
      ['"x" <y@z>', []],
      ['A B. C <x@y>', []],
      // Error records: Tcllib leaves memberP empty where it gave up early; tclmail says 0 or 1.
      ['john doe@x', ['memberP']],
      ['<>', ['memberP']],
      ['a@b c@d, e@f', ['memberP']],
      ['<a@b', ['memberP']],
      ['x <a@b c@d>', ['memberP']],
      ['a@b (c', ['memberP']],
      ['alice@good(<bob@evil>', ['memberP']],
      ['"unterminated', ['memberP']],
      ['.a@b', ['memberP']],
      ['[x]@y', ['memberP']],
      ['\\x@y', ['memberP']],
      ['a@b..c', ['memberP']],
      ['a@b.', ['memberP']],
      ['Ab <a@b>, @', ['memberP']],
      ['john doe, x@y', ['memberP']],
    ];
    const expected = tclParse(same.map(([text]) => text));
    same.forEach(([text, ignore], index) => {
      const theirs = expected[index].map((record) => Object.fromEntries(Object.entries(record).filter(([key]) => !ignore.includes(key))));
      expect({ text, records: ourParse(text, ignore) }).toEqual({ text, records: theirs });
    });
  });

  it('parseaddress differs where docs/differences-from-tcllib.md says it does', () => {
    const [host] = tcl(['emit [info hostname]']);
    const inputs = [
      'root',
      'a@b.c; d@e.f',
      'g: a@b, c@d;',
      'J.R.R. Tolkien <j@x>',
      '"x\r\nRCPT TO:<evil@x.org>"@b.org',
      '=?utf-8?Q?J=C3=B6rg?= <j@x>',
      '"Joe" Smith <j@x>',
      'a@b;,c@d',
    ];
    const [root, semicolon, group, dotted, injected, encoded, quoted, negative] = tclParse(inputs);

    expect(root[0]).toMatchObject({ address: `root@${host}`, error: '' });
    expect(one('root')).toMatchObject({ address: 'root', error: 'missing domain after local-part (found end-of-input)' });

    expect(semicolon.map((r) => r.address)).toEqual(['a@b.c']);
    expect(parseaddress('a@b.c; d@e.f').map((r) => r.address)).toEqual(['a@b.c', 'd@e.f']);

    expect(group.map((r) => r.group)).toEqual(['g', '']);
    expect(parseaddress('g: a@b, c@d;').map((r) => r.group)).toEqual(['g', 'g']);

    expect(dotted[0].error).toBe('expecting at-sign after local-part (found <)');
    expect(one('J.R.R. Tolkien <j@x>')).toMatchObject({ error: '', address: 'j@x' });

    expect(injected[0]).toMatchObject({ error: '', domain: 'b.org' });
    expect(one('"x\r\nRCPT TO:<evil@x.org>"@b.org').error).not.toBe('');

    expect(encoded[0].friendly).toBe('=?utf-8?Q?J=C3=B6rg?=');
    expect(one('=?utf-8?Q?J=C3=B6rg?= <j@x>').friendly).toBe('Jörg');

    expect(quoted[0].phrase).toBe('"Joe" Smith"');
    expect(one('"Joe" Smith <j@x>').phrase).toBe('Joe Smith');

    expect(negative[1].memberP).toBe('-1');
    expect(parseaddress('a@b;,c@d')[1].memberP).toBe(0);
  });

  it('differs where the codecs were fixed', () => {
    const [dot, from, crlf, wordBreak, decodeSoft, sep, zone, split] = tcl([
      'emit [mime::qp_encode "a\\n.\\nb"]',
      'emit [mime::qp_encode "From me"]',
      'emit [mime::qp_encode "a\\r\\nb"]',
      `emit [mime::qp_encode ${word('x'.repeat(100))} 1]`,
      'emit [mime::qp_decode "ab=\\r\\ncd"]',
      'emit [mime::parsedatetime "13 Sep 2023 08:00:00 +0000" lmonth]',
      'attempt {mime::parsedatetime "Tue, 29 Feb 2000 16:57:00 -0500" zone}',
      'emit [mime::field_decode "=?utf-8?Q?H=C3?= =?utf-8?Q?=BCrz?="]',
    ]);
    expect(dot).toBe('a=2E\nb');
    expect(qp_encode('a\n.\nb')).toBe('a\n=2E\nb');
    expect(from).toBe('From me');
    expect(qp_encode('From me')).toBe('=46rom me');
    expect(crlf).toBe('a=0D\nb');
    expect(qp_encode('a\r\nb')).toBe('a\r\nb');
    expect(wordBreak).toContain('=\n');
    expect(qp_encode('x'.repeat(100), 1)).toBe('x'.repeat(100));
    expect(decodeSoft).toBe('ab=\r\ncd');
    expect(qp_decode('ab=\r\ncd')).toBe('abcd');
    expect(sep).toBe('Sepember');
    expect(parsedatetime('13 Sep 2023 08:00:00 +0000', 'lmonth')).toBe('September');
    expect(zone).toMatch(/^ERROR: unrecognized timezone-mnemonic/);
    expect(parsedatetime('Tue, 29 Feb 2000 16:57:00 -0500', 'zone')).toBe(-300);
    expect(split).not.toBe('Hürz');
    expect(field_decode('=?utf-8?Q?H=C3?= =?utf-8?Q?=BCrz?=')).toBe('Hürz');
  });
});

function one(text: string): AddressInfo {
  const list = parseaddress(text);
  expect(list).toHaveLength(1);
  return list[0];
}
