/**
 * Content-Disposition is a structured field: its parameters are never encoded
 * words (RFC 2047 section 5), so a filename holding `=?` survives as written,
 * and one with characters beyond ASCII goes out in RFC 2231 form.
 */
import { simpleParser } from 'mailparser';
import * as mime from '../../../mime';
import { describeWithTcllib, runTcl, tclQuote } from '../../support/tcl';

function withDisposition(value: string): mime.Token {
  const tok = mime.initialize({ canonical: 'application/pdf', string: Buffer.from('%PDF-1.4\n') });
  mime.setheader(tok, 'Content-Disposition', value);
  return tok;
}

function dispositionLine(message: string): string {
  return /^Content-Disposition: (.*(?:\r\n[ \t].*)*)$/m.exec(message)![1].replace(/\r\n(?=[ \t])/g, '');
}

describe('Content-Disposition parameters', () => {
  it('keeps filename="a=?b.pdf" as written: no encoded word, the filename readable again', async () => {
    const tok = withDisposition('attachment; filename="a=?b.pdf"');
    const message = mime.buildmessage(tok).toString();
    expect(dispositionLine(message)).toBe('attachment; filename="a=?b.pdf"');
    const parsed = await simpleParser(message);
    expect(parsed.attachments[0].filename).toBe('a=?b.pdf');
    mime.finalize(tok);
  });

  it('writes a non-ASCII filename holding =? in RFC 2231 form, never as an encoded word', async () => {
    const tok = withDisposition('attachment; filename="Grüße=?x.pdf"; size=9');
    const line = dispositionLine(mime.buildmessage(tok).toString());
    expect(line).not.toContain('=?UTF-8?');
    expect(line).toMatch(/^attachment; filename\*(0\*)?=utf-8''/);
    const parsed = await simpleParser(mime.buildmessage(tok));
    expect(parsed.attachments[0].filename).toBe('Grüße=?x.pdf');
    mime.finalize(tok);
  });

  it('still folds a very long plain filename through RFC 2231 continuations instead of failing', () => {
    const long = `${'r'.repeat(950)}.pdf`;
    const tok = withDisposition(`attachment; filename="${long}"`);
    const message = mime.buildmessage(tok).toString();
    for (const line of message.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    const back = mime.initialize('-string', message);
    expect(mime.getheader(back, 'Content-Disposition')[0]).toContain('filename*0');
    mime.finalize(back);
    mime.finalize(tok);
  });
});

describeWithTcllib('Content-Disposition against Tcllib', () => {
  it('writes the same line as Tcllib for a plain ASCII value with =?', () => {
    const value = 'attachment; filename="a=?b.pdf"';
    const tcl = runTcl(`set t [mime::initialize -canonical application/pdf -string x]\nmime::setheader $t Content-Disposition ${tclQuote(value)}\nputs -nonewline [mime::buildmessage $t]`).toString();
    const tok = withDisposition(value);
    expect(dispositionLine(mime.buildmessage(tok).toString())).toBe(dispositionLine(tcl.replace(/\r?\n/g, '\r\n')));
    mime.finalize(tok);
  });
});
