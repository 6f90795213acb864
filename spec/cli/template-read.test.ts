/**
 * readTemplate tells a JSON description from a message by the file name or,
 * failing that, by its first characters, read without loading the whole file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTemplate } from '../../cli/template';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-template-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('readTemplate', () => {
  it('reads a description whose name does not say JSON but whose text starts with {', () => {
    const path = join(work, 'notice.tpl');
    writeFileSync(path, `\n  \t${JSON.stringify({ from: 'a@example.com', subject: 'Hi {{name}}', text: 'Dear {{name}}' })}`);
    const template = readTemplate(path);
    expect(template.root.content).toBe('text/plain');
    expect(template.root.headers).toEqual([['From', 'a@example.com'], ['Subject', 'Hi {{name}}']]);
    expect([...template.fields]).toEqual(['name']);
  });

  it('reads anything else as a message, however long', () => {
    const path = join(work, 'notice.tpl');
    const body = `Dear {{name}},\r\n${'x'.repeat(70)}\r\n`.repeat(2000);
    writeFileSync(path, `From: a@example.com\r\nSubject: {{topic}}\r\n\r\n${body}`);
    const template = readTemplate(path);
    expect(template.root.content).toBe('text/plain');
    expect(template.root.body).toEqual({ kind: 'text', text: body, html: false });
    expect([...template.fields].sort()).toEqual(['name', 'topic']);
  });
});
