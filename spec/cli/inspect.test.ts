/**
 * `tclmail inspect` on a hand-written message (exact output) and on a message
 * another mail program (nodemailer) delivered into the capture server.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startCaptureServer } from '../../cli/serve';
import type { PartTree } from '../../cli/commands/inspect';
import { ensureBuilt, run } from './helpers';

let work: string;

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-inspect-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

// LF line ends, as a message saved by a Unix mail program often has them.
const SAMPLE = [
  'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>',
  'To: team@example.com',
  'Subject: =?UTF-8?B?R3LDvMOfZQ==?= from the =?ISO-8859-1?Q?caf=E9?=',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 at ten.',
  '--inner',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Café at ten.</p>',
  '--inner--',
  '--outer',
  "Content-Type: application/pdf; name*=utf-8''R%C3%A9sum%C3%A9.pdf",
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment;',
  " filename*=utf-8''R%C3%A9sum%C3%A9.pdf",
  '',
  'JVBERi0xLjQKJcOkw7zDtsOfCg==',
  '--outer--',
  '',
].join('\n');

describe('tclmail inspect', () => {
  it('prints the MIME tree with section numbers, types, encodings, sizes and decoded fields', async () => {
    const file = join(work, 'sample.eml');
    writeFileSync(file, SAMPLE);
    const result = await run(['inspect', file]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'message multipart/mixed; boundary=outer (58 bytes)',
      '    From: Renée <renee@example.com>',
      '    To: team@example.com',
      '    Subject: Grüße from the café',
      '  1 multipart/alternative; boundary=inner (37 bytes)',
      '    1.1 text/plain; charset=utf-8 (quoted-printable, 17 bytes)',
      '    1.2 text/html; charset=utf-8 (20 bytes)',
      '  2 application/pdf; name="Résumé.pdf" (base64, 21 bytes)',
      '      Content-Disposition: attachment; filename="Résumé.pdf"',
      '',
    ]);
  });

  it('prints the same tree as JSON with --json', async () => {
    const file = join(work, 'sample.eml');
    writeFileSync(file, SAMPLE);
    const result = await run(['inspect', '--json', file]);
    expect(result.status).toBe(0);
    const tree = JSON.parse(result.stdout) as PartTree;
    const shape = (t: PartTree): unknown => [t.section, t.content, t.encoding, t.parts.map(shape)];
    expect(shape(tree)).toEqual(['', 'multipart/mixed', '', [
      ['1', 'multipart/alternative', '', [['1.1', 'text/plain', 'quoted-printable', []], ['1.2', 'text/html', '', []]]],
      ['2', 'application/pdf', 'base64', []],
    ]]);
    expect(tree.headers).toContainEqual(['Subject', 'Grüße from the café']);
    expect(tree.parts[1].params).toEqual({ name: 'Résumé.pdf' });
  });

  it('reads a message another program delivered into the capture server', async () => {
    const server = await startCaptureServer({ dir: join(work, 'mail') });
    try {
      await createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true }).sendMail({
        from: 'a@example.com',
        to: 'b@example.com',
        subject: 'Zürich numbers',
        text: 'see the attachment',
        attachments: [{ filename: 'numbers.json', content: '{"n":[1,2,3]}', contentType: 'application/json' }],
      });
    } finally {
      await server.close();
    }
    const [name] = readdirSync(join(work, 'mail', 'new'));
    const result = await run(['inspect', join(work, 'mail', 'new', name)]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^message multipart\/mixed; boundary=\S+ \(\d+ bytes\)$/m);
    expect(result.stdout).toMatch(/^    Subject: Zürich numbers$/m);
    expect(result.stdout).toMatch(/^  1 text\/plain(; charset=utf-8)? \((7bit, )?18 bytes\)$/m);
    expect(result.stdout).toMatch(/^  2 application\/json; name=numbers\.json \(base64, \d+ bytes\)$/m);
    expect(result.stdout).toMatch(/^      Content-Disposition: attachment; filename=numbers\.json$/m);
  });

  it('exits 64 for a missing file or a missing argument', async () => {
    const missing = await run(['inspect', join(work, 'nope.eml')]);
    expect(missing.status).toBe(64);
    expect(missing.stderr).toMatch(/nope\.eml: no such file/);
    const none = await run(['inspect']);
    expect(none.status).toBe(64);
    expect(none.stderr).toMatch(/missing argument/);
  });
});
