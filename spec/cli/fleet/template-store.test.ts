/**
 * The fleet stores a campaign's template as bytes and workers rebuild it:
 * the rebuilt template renders the same message (attachment bytes included),
 * the bytes are the same for the same template, and damaged bytes are
 * refused with a typed error rather than rendered.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { InvalidInputError } from '../../../lib/errors';
import * as mime from '../../../mime';
import { loadTemplate, storeTemplate, storedTemplateDigest } from '../../../cli/template-store';
import { readTemplate, render } from '../../../cli/template';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-template-store-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function rendered(template: ReturnType<typeof readTemplate>, values: Record<string, string>, to: string) {
  const token = render(template, values, to);
  try {
    return await simpleParser(mime.buildmessage(token));
  } finally {
    mime.finalize(token, { subordinates: 'all' });
  }
}

describe('storeTemplate and loadTemplate', () => {
  it('rebuild a description with an HTML part and a binary attachment that renders the same message', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 13, 10, 46, 13, 10]);
    writeFileSync(join(work, 'data.bin'), bytes);
    const path = join(work, 't.json');
    writeFileSync(path, JSON.stringify({ from: 'n@example.com', subject: 'Hi {{name}}', text: 'Dear {{name}}', html: '<p>{{name}}</p>', attachments: ['data.bin'] }));
    const original = readTemplate(path);
    const stored = storeTemplate(original);
    rmSync(join(work, 'data.bin'));
    const rebuilt = loadTemplate(stored);
    expect(rebuilt).toEqual(original);

    const mail = await rendered(rebuilt, { name: 'Ann <&>' }, 'ann@example.com');
    expect(mail.subject).toBe('Hi Ann <&>');
    expect(mail.text).toBe('Dear Ann <&>');
    expect(mail.html).toContain('<p>Ann &#60;&#38;&#62;</p>');
    expect(mail.attachments).toHaveLength(1);
    expect(Buffer.compare(mail.attachments[0].content, bytes)).toBe(0);
    expect(mail.attachments[0].filename).toBe('data.bin');
  });

  it('give the same bytes and digest for the same template, and another digest for a changed one', () => {
    const path = join(work, 't.eml');
    writeFileSync(path, 'From: a@example.com\r\nSubject: {{topic}}\r\n\r\nBody {{name}}\r\n');
    const first = storeTemplate(readTemplate(path));
    expect(storeTemplate(readTemplate(path)).equals(first)).toBe(true);
    expect(storedTemplateDigest(first)).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(path, 'From: a@example.com\r\nSubject: {{topic}}\r\n\r\nBody  {{name}}\r\n');
    expect(storedTemplateDigest(storeTemplate(readTemplate(path)))).not.toBe(storedTemplateDigest(first));
    expect([...loadTemplate(first).fields].sort()).toEqual(['name', 'topic']);
  });

  it('refuse bytes that are not a stored template, naming what to do', () => {
    expect(() => loadTemplate(Buffer.from('not json'))).toThrow(InvalidInputError);
    expect(() => loadTemplate(Buffer.from('{"format":"tclmail-template/9","root":{}}'))).toThrow(/format "tclmail-template\/9".*enqueue the campaign again/);
    const stored = JSON.parse(storeTemplate(readTemplateFrom('{"text":"x"}')).toString()) as { root: { headers: unknown } };
    stored.root.headers = [['Subject']];
    expect(() => loadTemplate(Buffer.from(JSON.stringify(stored)))).toThrow(/headers is not a list of \[name, value\] pairs/);
  });
});

function readTemplateFrom(text: string) {
  const path = join(work, 'x.json');
  writeFileSync(path, text);
  return readTemplate(path);
}
