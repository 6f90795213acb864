/**
 * The README's side-by-side port of a Tcl report mailer runs as written:
 * the first relay is down, the second takes the message, one recipient is
 * refused and reported, and the stored message carries the log as an attachment.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { mail_report } from '../../examples/nightly_report';
import { startCaptureServer } from '../../cli/serve';
import { closedPort } from '../support/fixtures';

describe('examples/nightly_report.ts (README: porting a Tcl script)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails over to the second relay, reports the refused recipient and attaches the log', async () => {
    const logfile = join(dir, 'night.log');
    writeFileSync(logfile, 'backup ok\nreindex ok\n');
    const stored: string[] = [];
    const server = await startCaptureServer({
      dir: join(dir, 'mail'),
      refuse: (address: string) => address === 'gone@example.org',
      onMessage: (message: { path: string }) => stored.push(message.path),
    });
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      await mail_report(logfile, 'ops@example.org, gone@example.org', ['127.0.0.1', '127.0.0.1'], [await closedPort(), server.port]);
    } finally {
      spy.mockRestore();
      await server.close();
    }
    expect(errors).toEqual([expect.stringMatching(/^refused: gone@example\.org 550 /)]);
    expect(stored).toHaveLength(1);
    const mail = await simpleParser(readFileSync(stored[0]));
    expect(mail.subject).toMatch(/^Nightly report for \d{4}-\d{2}-\d{2}$/);
    expect(mail.from?.value).toEqual([{ name: 'Nightly job', address: 'jobs@example.org' }]);
    expect(mail.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([['night.log', 'backup ok\r\nreindex ok\r\n']]);
  });
});
