/**
 * Messages written by other mail software parse to the tree they describe:
 * nodemailer's MailComposer (checked against mailparser, an independent
 * reader) and Tcllib's buildmessage; and on messages Tcllib 1.7.0 can read
 * (LF line ends), our tree matches Tcllib's own parse.
 */
import libmime = require('libmime');
import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseBuffer } from '../../../mime/parse/message';
import type { Part } from '../../../mime/part';
import { describeWithTcllib, runTcl, tclQuote } from '../../support/tcl';
import { allParts, bodyBytes, shape } from './support';

const children = (part: Part): Part[] => (part.body.kind === 'parts' ? part.body.parts : []);
const field = (part: Part, name: string): string | undefined => part.headers.find((each) => each.name.toLowerCase() === name.toLowerCase())?.value;
const decodedBase64 = (part: Part): Buffer => Buffer.from(bodyBytes(part.body).toString('latin1'), 'base64');

describe('a message written by nodemailer', () => {
  const binary = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256));

  async function compose(): Promise<Buffer> {
    const mail = new MailComposer({
      from: 'Jürgen <j@example.org>',
      to: 'a@example.org, "B, Second" <b@example.net>',
      subject: 'Grüße aus Köln, with a subject long enough to be folded over more than one line',
      text: 'Plain text\nwith a second line and ünïcödé',
      html: '<p>HTML <b>text</b></p>',
      headers: { 'X-Custom': 'custom value' },
      attachments: [
        { filename: 'été résumé.txt', content: 'attached text\n' },
        { filename: 'data.bin', content: binary, contentType: 'application/octet-stream' },
      ],
    });
    return mail.compile().build();
  }

  it('parses to multipart/mixed of an alternative and two attachments', async () => {
    const message = await compose();
    const part = parseBuffer(message);
    expect(allParts(part).flatMap((each) => each.defects)).toEqual([]);
    expect(part.content).toBe('multipart/mixed');
    expect(children(part).map((child) => child.content)).toEqual(['multipart/alternative', 'text/plain', 'application/octet-stream']);
    expect(children(children(part)[0]).map((child) => child.content)).toEqual(['text/plain', 'text/html']);

    // Encoded words stay encoded in value; the raw field keeps nodemailer's folding.
    const subject = part.headers.find((each) => each.name === 'Subject');
    expect(subject?.value).toMatch(/^=\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe/);
    expect(subject?.raw?.toString()).toContain('\r\n ');
    expect(field(part, 'X-Custom')).toBe('custom value');

    const [, text, bin] = children(part);
    // nodemailer writes the name parameter as an encoded word, which stays as given (like header values).
    expect(text.params.get('name')).toBe('=?UTF-8?Q?=C3=A9t=C3=A9_r=C3=A9sum=C3=A9=2Etxt?=');
    expect(field(text, 'Content-Disposition')).toMatch(/^attachment; filename\*0\*=utf-8''/);
    expect(decodedBase64(text).toString()).toBe('attached text\n');
    expect(bin.encoding).toBe('base64');
    expect(decodedBase64(bin)).toEqual(binary);
  });

  it('agrees with mailparser on the attachments and the header values', async () => {
    const message = await compose();
    const part = parseBuffer(message);
    const theirs = await simpleParser(message);
    expect(theirs.attachments.map((each) => each.filename)).toEqual(children(part).slice(1).map((child) => libmime.decodeWords(child.params.get('name') ?? '')));
    expect(theirs.attachments.map((each) => each.content)).toEqual(children(part).slice(1).map(decodedBase64));
    expect(theirs.messageId).toBe(field(part, 'Message-ID'));
    expect(theirs.headers.get('x-custom')).toBe(field(part, 'X-Custom'));
  });
});

describeWithTcllib('messages and Tcllib', () => {
  it('parses a message written by Tcllib buildmessage', () => {
    const message = runTcl(`
      set t1 [mime::initialize -canonical text/plain -param {charset us-ascii} -string "Hello from Tcl\\nsecond line"]
      set t2 [mime::initialize -canonical application/octet-stream -param {name data.bin} -encoding base64 -string "\\x00\\x01\\x02binary\\xff"]
      mime::setheader $t2 Content-Disposition {attachment; filename="data.bin"}
      set top [mime::initialize -canonical multipart/mixed -param {boundary tcl-boundary-1} -header {Subject {Tcl made this}} -header {From a@example.org} -parts [list $t1 $t2]]
      fconfigure stdout -translation binary
      puts -nonewline [mime::buildmessage $top]
    `);
    const part = parseBuffer(message);
    expect(part.content).toBe('multipart/mixed');
    expect(Object.fromEntries(part.params)).toEqual({ boundary: 'tcl-boundary-1' });
    expect(part.headers.map((each) => each.name)).toEqual(['Subject', 'From', 'Content-ID']);
    expect(part.rawLayout?.mimeFields['content-type']?.toString()).toBe('Content-Type: multipart/mixed;\r\n              boundary="tcl-boundary-1"');
    const [text, bin] = children(part);
    expect(shape(text)).toEqual({ content: 'text/plain', params: { charset: 'us-ascii' }, headers: [['Content-ID', expect.stringMatching(/^<.+>$/)]], body: 'Hello from Tcl\r\nsecond line' });
    expect(bin.params.get('name')).toBe('data.bin');
    expect(field(bin, 'Content-Disposition')).toBe('attachment; filename="data.bin"');
    expect(decodedBase64(bin)).toEqual(Buffer.from([0, 1, 2, ...Buffer.from('binary'), 0xff]));
    // Tcllib 1.7.0 writes the Content-Transfer-Encoding line twice.
    expect(bin.defects).toEqual(['multiple Content-Transfer-Encoding fields starting with Content-Transfer-Encoding: base64; the first one counts']);
  });

  // Tcllib's parse printed part by part: content, params and the (decoded) leaf body.
  function tcllibTree(message: string): string[] {
    const out = runTcl(`
      package require base64
      proc walk {tok} {
        set props [mime::getproperty $tok]
        puts "part [dict get $props content]"
        foreach {k v} [dict get $props params] { puts "param $k [base64::encode -maxlen 0 $v]" }
        if {[dict exists $props parts]} {
          foreach c [dict get $props parts] { walk $c }
        } else {
          puts "body [base64::encode -maxlen 0 [mime::getbody $tok]]"
        }
      }
      fconfigure stdout -translation binary
      walk [mime::initialize -string ${tclQuote(message)}]
    `);
    return out.toString('latin1').split('\n').filter((line) => line !== '');
  }

  function ourTree(message: string): string[] {
    const lines: string[] = [];
    const walk = (part: Part): void => {
      lines.push(`part ${part.content}`);
      for (const [key, value] of part.params) lines.push(`param ${key} ${Buffer.from(value, 'latin1').toString('base64')}`);
      if (part.body.kind === 'parts') part.body.parts.forEach(walk);
      else lines.push(`body ${(part.encoding === 'base64' ? decodedBase64(part) : bodyBytes(part.body)).toString('base64')}`);
    };
    walk(parseBuffer(Buffer.from(message, 'latin1')));
    return lines;
  }

  it.each([
    [
      'a multipart with a preamble, params and a base64 attachment',
      'Content-Type: multipart/mixed; boundary="xx"\nSubject: hi\n\npre\n--xx\nContent-Type: text/plain; charset=utf-8\n\nhello\n--xx\nContent-Type: application/octet-stream; name="a b.bin"\nContent-Transfer-Encoding: base64\n\nAAEC/w==\n--xx--\n',
    ],
    [
      'nested multiparts and a message/rfc822',
      'Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain\n\nplain\n--i\nContent-Type: text/html; charset=iso-8859-1\n\n<p>html</p>\n--i--\n--o\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\ninner body\n--o--\n',
    ],
    ['Multipart/foo; boundary="bar" (Tcllib mime-3.2)', 'MIME-Version: 1.0\nContent-Type: Multipart/foo; boundary="bar"\n\n--bar\nMIME-Version: 1.0\nContent-Type: Text/plain\n\npart1\n--bar\nMIME-Version: 1.0\nContent-Type: Text/plain\n\npart2\n--bar--\n'],
  ])('reads %s as Tcllib does', (_name, message) => {
    expect(ourTree(message)).toEqual(tcllibTree(message));
  });
});
