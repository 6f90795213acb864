/**
 * Differential tests against real Tcllib (mime 1.7): the same parts built by
 * tclsh and by tclmail, both read by an independent parser (mailparser), give
 * the same content types, parameters, decoded bodies and decoded header
 * values. Content-ID, Message-ID, Date and boundaries are left aside; Tcllib
 * is given an explicit boundary (its generated one is broken in 1.7.0) and
 * bytes rather than text (its encoders keep the low byte of a character).
 */
import type { ParsedMail } from 'mailparser';
import * as mime from '../../../mime';
import { describeWithTcllib, runTcl, tclQuote } from '../../support/tcl';
import { bytesOf, parseMail, tempDir } from './support';

const dir = tempDir();
afterAll(() => dir.remove());

const binary = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff));
const longText = Array.from({ length: 30 }, (_, i) => `This is sentence number ${i} of a paragraph written on one single line.`).join(' ');

interface Case {
  name: string;
  /** Tcl commands that leave the part to build in $t (files: $bin is the binary file). */
  tcl: string;
  build(files: { bin: string }): mime.Token;
}

const cases: Case[] = [
  {
    name: 'plain text with headers',
    tcl: 'set t [mime::initialize -canonical text/plain -header {Subject {Hello there}} -header {From {Alice <alice@example.org>}} -header {To bob@example.org} -string "jack and jill\\nwent up the hill"]',
    build: () => mime.initialize({ canonical: 'text/plain', header: [['Subject', 'Hello there'], ['From', 'Alice <alice@example.org>'], ['To', 'bob@example.org']], string: 'jack and jill\nwent up the hill' }),
  },
  {
    name: 'text with parameters',
    tcl: 'set t [mime::initialize -canonical text/plain -param {charset us-ascii} -param {format flowed} -string "flowed text"]',
    build: () => mime.initialize({ canonical: 'text/plain', param: [['charset', 'us-ascii'], ['format', 'flowed']], string: 'flowed text' }),
  },
  {
    name: 'UTF-8 text as quoted-printable, with an encoded Subject',
    tcl: `set t [mime::initialize -canonical text/plain -param {charset utf-8} -encoding quoted-printable -header [list Subject [mime::word_encode utf-8 quoted-printable ${tclQuote('Grüße aus Köln')} -charset_encoded 0]] -string [encoding convertto utf-8 ${tclQuote('Grüße aus Köln\nzweite Zeile')}]]`,
    build: () => mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], encoding: 'quoted-printable', header: [['Subject', 'Grüße aus Köln']], string: 'Grüße aus Köln\nzweite Zeile' }),
  },
  {
    name: 'a long line (quoted-printable chosen by both)',
    tcl: `set t [mime::initialize -canonical text/plain -string ${tclQuote(longText)}]`,
    build: () => mime.initialize({ canonical: 'text/plain', string: longText }),
  },
  {
    name: 'base64 of "hello world"',
    tcl: 'set t [mime::initialize -canonical application/octet-stream -encoding base64 -header {Content-Disposition attachment} -string "hello world"]',
    build: () => mime.initialize({ canonical: 'application/octet-stream', encoding: 'base64', header: [['Content-Disposition', 'attachment']], string: Buffer.from('hello world') }),
  },
  {
    name: 'an image from a file (base64 chosen by both)',
    tcl: 'set t [mime::initialize -canonical image/png -header {Content-Disposition {attachment; filename="pic.png"}} -file $bin]',
    build: ({ bin }) => mime.initialize({ canonical: 'image/png', header: [['Content-Disposition', 'attachment; filename="pic.png"']], file: bin }),
  },
  {
    name: 'multipart/mixed with a text part and an attachment',
    tcl: [
      'set a [mime::initialize -canonical text/plain -string "See the attachment."]',
      'set b [mime::initialize -canonical application/octet-stream -param {name data.bin} -header {Content-Disposition {attachment; filename="data.bin"}} -encoding base64 -file $bin]',
      'set t [mime::initialize -canonical multipart/mixed -param {boundary OUTER} -header {Subject {With attachment}} -parts [list $a $b]]',
    ].join('\n'),
    build: ({ bin }) => mime.initialize({
      canonical: 'multipart/mixed',
      header: [['Subject', 'With attachment']],
      parts: [
        mime.initialize({ canonical: 'text/plain', string: 'See the attachment.' }),
        mime.initialize({ canonical: 'application/octet-stream', param: [['name', 'data.bin']], header: [['Content-Disposition', 'attachment; filename="data.bin"']], encoding: 'base64', file: bin }),
      ],
    }),
  },
  {
    name: 'nested multipart/alternative inside multipart/mixed',
    tcl: [
      'set p [mime::initialize -canonical text/plain -string "plain version"]',
      'set h [mime::initialize -canonical text/html -string "<p>html version</p>"]',
      'set alt [mime::initialize -canonical multipart/alternative -param {boundary INNER} -parts [list $p $h]]',
      'set z [mime::initialize -canonical application/zip -header {Content-Disposition {attachment; filename="a.zip"}} -encoding base64 -string "PK\\x03\\x04"]',
      'set t [mime::initialize -canonical multipart/mixed -param {boundary OUTER} -parts [list $alt $z]]',
    ].join('\n'),
    build: () => mime.initialize({
      canonical: 'multipart/mixed',
      parts: [
        mime.initialize({ canonical: 'multipart/alternative', parts: [mime.initialize({ canonical: 'text/plain', string: 'plain version' }), mime.initialize({ canonical: 'text/html', string: '<p>html version</p>' })] }),
        mime.initialize({ canonical: 'application/zip', header: [['Content-Disposition', 'attachment; filename="a.zip"']], encoding: 'base64', string: Buffer.from('PK\x03\x04', 'latin1') }),
      ],
    }),
  },
  {
    name: 'a multipart with its own parameter and a description',
    tcl: [
      'set a [mime::initialize -canonical text/plain -string "part one"]',
      'set b [mime::initialize -canonical text/plain -string "part two"]',
      'set t [mime::initialize -canonical multipart/related -param {type text/plain} -param {boundary B1} -header {Content-Description {two parts}} -parts [list $a $b]]',
    ].join('\n'),
    build: () => mime.initialize({
      canonical: 'multipart/related',
      param: [['type', 'text/plain']],
      header: [['Content-Description', 'two parts']],
      parts: [mime.initialize({ canonical: 'text/plain', string: 'part one' }), mime.initialize({ canonical: 'text/plain', string: 'part two' })],
    }),
  },
];

/** What both builds must agree on, read by mailparser. */
function essence(mail: ParsedMail): unknown {
  const contentType = mail.headers.get('content-type') as { value: string; params: Record<string, string> };
  const params = { ...contentType.params };
  delete params.boundary;
  const headers: Record<string, unknown> = {};
  for (const [key, value] of mail.headers) {
    if (['content-id', 'message-id', 'date', 'content-type', 'content-transfer-encoding', 'mime-version'].includes(key)) continue;
    headers[key] = typeof value === 'object' && value !== null && 'text' in value ? (value as { text: string }).text : value;
  }
  return {
    type: contentType.value,
    params,
    headers,
    text: mail.text?.replace(/\r\n/g, '\n').trimEnd(),
    html: typeof mail.html === 'string' ? mail.html.trimEnd() : mail.html,
    attachments: mail.attachments.map((attachment) => ({
      contentType: attachment.contentType,
      filename: attachment.filename,
      content: attachment.content.toString('base64'),
    })),
  };
}

describeWithTcllib('the same parts built by Tcllib and by tclmail', () => {
  const bin = dir.file('data.bin', binary);

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const fromTcl = runTcl(`fconfigure stdout -translation binary\nset bin ${tclQuote(bin)}\n${c.tcl}\nputs -nonewline [mime::buildmessage $t]`);
    const token = c.build({ bin });
    try {
      const ours = bytesOf(token);
      const [theirs, mine] = await Promise.all([parseMail(fromTcl), parseMail(ours)]);
      expect(essence(mine)).toEqual(essence(theirs));
    } finally {
      mime.finalize(token, { subordinates: 'all' });
    }
  });

  it('agrees on the transfer encodings Tcllib chooses where Tcllib is right', () => {
    const pick = (text: string): string => {
      const tcl = runTcl(`fconfigure stdout -translation binary\nset t [mime::initialize -canonical text/plain -string ${tclQuote(text)}]\nputs -nonewline [mime::getheader $t]`).toString('latin1');
      return /Content-Transfer-Encoding (\S+)/.exec(tcl)?.[1] ?? '';
    };
    for (const text of ['short and plain', longText, 'ok\n.dot line', 'ok\nFrom here']) {
      const token = mime.initialize({ canonical: 'text/plain', string: text });
      try {
        expect(mime.getheader(token, 'content-transfer-encoding')[0] ?? '').toBe(pick(text));
      } finally {
        mime.finalize(token);
      }
    }
  });
});
