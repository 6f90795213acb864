/**
 * A value filled into a template's Content-Disposition parameter stays that
 * parameter's value: it cannot close the quoted string and add parameters.
 */
import { simpleParser } from 'mailparser';
import * as mime from '../../mime';
import { InvalidInputError } from '../../lib/errors';
import { render, type Template } from '../../cli/template';

function template(disposition: string): Template {
  return {
    root: {
      content: 'application/pdf',
      params: [],
      encoding: 'base64',
      headers: [['Subject', 'Invoice {{name}}'], ['Content-Disposition', disposition]],
      body: { kind: 'bytes', data: Buffer.from('%PDF-1.4\n') },
    },
    fields: new Set(['name']),
  };
}

async function filenameOf(tok: mime.Token): Promise<{ filename: string | undefined; line: string }> {
  const message = mime.buildmessage(tok);
  const line = /^Content-Disposition: (.*(?:\r\n[ \t].*)*)$/m.exec(message.toString())![1].replace(/\r\n(?=[ \t])/g, '');
  const parsed = await simpleParser(message);
  return { filename: parsed.attachments[0]?.filename, line };
}

describe('template values in Content-Disposition parameters', () => {
  it('a value that tries to add filename*= is the filename, whole', async () => {
    const evil = `x.pdf"; filename*=utf-8''evil.exe; x="y`;
    const tok = render(template('attachment; filename="invoice-{{name}}.pdf"'), { name: evil }, 'a@example.org');
    const { filename, line } = await filenameOf(tok);
    expect(filename).toBe(`invoice-${evil}.pdf`);
    // One parameter: the value's own quotes and semicolons are percent-encoded (RFC 2231).
    expect(line).toMatch(/^attachment; filename\*=utf-8''invoice-x\.pdf%22%3B%20filename%2A%3Dutf-8%27%27evil\.exe%3B%20x%3D%22y\.pdf$/);
    expect(line.split(';')).toHaveLength(2);
    // The mime layer reads the same single parameter back.
    const back = mime.initialize('-string', mime.buildmessage(tok));
    expect(mime.getheader(back, 'Content-Disposition')[0]).not.toMatch(/;\s*x=/);
    mime.finalize(back);
    mime.finalize(tok);
  });

  it('a plain value goes into a quoted string; a non-ASCII one into RFC 2231 form', async () => {
    const plain = render(template('attachment; filename="invoice-{{name}}.pdf"'), { name: 'Ann Lee' }, 'a@example.org');
    expect(await filenameOf(plain)).toEqual({ filename: 'invoice-Ann Lee.pdf', line: 'attachment; filename="invoice-Ann Lee.pdf"' });
    const wide = render(template('attachment; filename={{name}}.pdf'), { name: 'Grüße' }, 'a@example.org');
    expect((await filenameOf(wide)).filename).toBe('Grüße.pdf');
    mime.finalize(plain);
    mime.finalize(wide);
  });

  it('the disposition type itself takes only a token', () => {
    expect(() => render(template('{{name}}; filename="a.pdf"'), { name: 'attachment; filename="evil.exe"' }, 'a@example.org')).toThrow(InvalidInputError);
    const tok = render(template('{{name}}; filename="a.pdf"'), { name: 'inline' }, 'a@example.org');
    expect(mime.getheader(tok, 'Content-Disposition')).toEqual(['inline; filename="a.pdf"']);
    mime.finalize(tok);
  });

  it('other fields are filled as text, as before', () => {
    const tok = render(template('attachment; filename="a.pdf"'), { name: 'Ann; x="y"' }, 'a@example.org');
    expect(mime.getheader(tok, 'Subject')).toEqual(['Invoice Ann; x="y"']);
    expect(mime.getheader(tok, 'Content-Disposition')).toEqual(['attachment; filename="a.pdf"']);
    mime.finalize(tok);
  });
});
