/**
 * Parse mode through the public facade: build → parse → build gives the same
 * bytes, and the parse cases that need the builder too.
 */
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import fc from 'fast-check';
import MailComposer from 'nodemailer/lib/mail-composer';
import * as mime from '../../../mime';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-parse-facade-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Parses `text` with initialize and builds it again. */
function rebuild(text: string): string {
  const token = mime.initialize({ string: text });
  try {
    return mime.buildmessage(token);
  } finally {
    mime.finalize(token, { subordinates: 'all' });
  }
}

describe('parse mode through the facade', () => {
  it('rebuilds a built multipart with attachment, nested alternative and message/rfc822 byte for byte', () => {
    const plain = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'Grüße\nline two\n' });
    const html = mime.initialize({ canonical: 'text/html', string: '<p>hi</p>' });
    const alternative = mime.initialize({ canonical: 'multipart/alternative', parts: [plain, html] });
    const attachment = mime.initialize({ canonical: 'application/octet-stream', param: [['name', 'data.bin']], string: Buffer.from([0, 1, 2, 255, 254]) });
    const innerText = mime.initialize({ canonical: 'text/plain', string: 'forwarded' });
    mime.setheader(innerText, 'Subject', 'Inner');
    const inner = mime.initialize({ canonical: 'message/rfc822', parts: [innerText] });
    const top = mime.initialize({ canonical: 'multipart/mixed', parts: [alternative, attachment, inner] });
    mime.setheader(top, 'Subject', 'Grüße aus Köln');
    mime.setheader(top, 'To', 'a@example.org');
    const built = mime.buildmessage(top);
    mime.finalize(top, { subordinates: 'all' });

    expect(rebuild(built)).toBe(built);
    const token = mime.initialize({ string: built });
    const parts = mime.getproperty(token, 'parts');
    expect(parts.map((part) => mime.getproperty(part, 'content'))).toEqual(['multipart/alternative', 'application/octet-stream', 'message/rfc822']);
    expect(mime.getbody(parts[1])).toEqual(Buffer.from([0, 1, 2, 255, 254]));
    mime.finalize(token, { subordinates: 'all' });
  });

  it('reparses a built multipart that was given no boundary (fails in Tcllib 1.7.0)', () => {
    const one = mime.initialize({ canonical: 'text/plain', string: 'one' });
    const two = mime.initialize({ canonical: 'text/plain', string: 'two' });
    const top = mime.initialize({ canonical: 'multipart/mixed', parts: [one, two] });
    const built = mime.buildmessage(top);
    const token = mime.initialize({ string: built });
    const parts = mime.getproperty(token, 'parts');
    expect(parts.map((part) => mime.getbody(part, { decode: true }))).toEqual(['one', 'two']);
    expect(rebuild(built)).toBe(built);
    mime.finalize(top, { subordinates: 'all' });
    mime.finalize(token, { subordinates: 'all' });
  });

  it('keeps MIME-Version 2.0 and gives a message without one 1.0', () => {
    expect(rebuild('MIME-Version: 2.0\r\nContent-Type: text/plain\r\n\r\nmsg1')).toBe('MIME-Version: 2.0\r\nContent-Type: text/plain\r\n\r\nmsg1');
    expect(rebuild('Content-Type: text/plain\r\n\r\nfoo')).toMatch(/^MIME-Version: 1\.0\r\nContent-Type: text\/plain\r\n\r\nfoo$/);
  });

  it('round-trips a 35 KB file through copymessage and a reparse (Tcllib mime-9.0)', async () => {
    const data = `${'123456789 '.repeat(10)}\n`.repeat(350);
    const input = join(dir, 'input.txt');
    writeFileSync(input, data);
    const canonical = mime.initialize({ canonical: 'text/plain', file: input });
    const output = join(dir, 'mime.txt');
    const stream = createWriteStream(output);
    await mime.copymessage(canonical, stream);
    stream.end();
    await once(stream, 'close');

    const parsed = mime.initialize({ file: output });
    // The builder writes text with CRLF line ends (RFC 2046 canonical form), where Tcllib on Unix keeps LF.
    expect(mime.getbody(parsed, { decode: true })).toBe(data.replace(/\n/g, '\r\n'));
    // The parsed file builds to the bytes copymessage wrote.
    expect(Buffer.from(mime.buildmessage(parsed), 'latin1').equals(readFileSync(output))).toBe(true);
    mime.finalize(canonical);
    mime.finalize(parsed);
  });

  it('rebuilds a parsed LF-only message with its own bytes', () => {
    const text = 'MIME-Version: 1.0\nSubject: lf\nContent-Type: multipart/mixed; boundary=b\n\npreamble\n--b\nContent-Type: text/plain\n\nplain\n--b--\nepilogue\n';
    expect(rebuild(text)).toBe(text);
  });

  it('rebuilds a message written by nodemailer with its own bytes', async () => {
    const message = await new MailComposer({
      from: 'Jürgen <j@example.org>',
      to: 'a@example.org',
      subject: 'Grüße, with a subject long enough to be folded over more than one line by nodemailer',
      text: 'text ünïcödé',
      html: '<p>html</p>',
      attachments: [{ filename: 'été.bin', content: Buffer.from([1, 2, 3, 250]) }],
    })
      .compile()
      .build();
    expect(rebuild(message.toString('latin1'))).toBe(message.toString('latin1'));
  });

  it('rebuilds any built tree of parts byte for byte after a parse (property)', () => {
    type Node = { text: string; binary: boolean; subject: string } | Node[];
    const { node } = fc.letrec<{ node: Node }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.record({ text: fc.string({ maxLength: 200 }), binary: fc.boolean(), subject: fc.string({ maxLength: 40 }).filter((text) => !/[\r\n\0]/.test(text)) }),
        fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
      ),
    }));
    const make = (each: Node): mime.Token => {
      if (Array.isArray(each)) return mime.initialize({ canonical: 'multipart/mixed', parts: each.map(make) });
      const token = each.binary
        ? mime.initialize({ canonical: 'application/octet-stream', string: Buffer.from(each.text, 'utf8') })
        : mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: each.text });
      if (each.subject !== '') mime.setheader(token, 'Subject', each.subject);
      return token;
    };
    fc.assert(
      fc.property(node, (each) => {
        const top = make(each);
        const built = mime.buildmessage(top);
        mime.finalize(top, { subordinates: 'all' });
        expect(rebuild(built)).toBe(built);
      }),
      { numRuns: 200 },
    );
  });
});
