/**
 * The quick start as `npm start` runs it (node dist/examples/quickstart.js):
 * it exits 0, prints the refused recipient and the path of a stored .eml that
 * holds the attachment.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { simpleParser } from 'mailparser';
import { ensureBuilt, ROOT } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);

function runExample(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'examples', 'quickstart.js')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('npm start (examples/quickstart)', () => {
  it('exits 0, reports the refused recipient and stores the message with its attachment', async () => {
    const result = await runExample();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^capture server listening on 127\.0\.0\.1:\d+, storing messages in /m);
    expect(result.stdout).toMatch(/^refused: nobody@example\.com 550 5\.1\.1 no such user here$/m);

    const stored = [...result.stdout.matchAll(/^stored: (.+\.eml)$/gm)].map((m) => m[1]);
    expect(stored).toHaveLength(1);
    expect(existsSync(stored[0])).toBe(true);
    try {
      const mail = await simpleParser(readFileSync(stored[0]));
      expect(mail.subject).toBe('Nightly report');
      expect(mail.text).toMatch(/report is attached/);
      expect(mail.attachments).toHaveLength(1);
      expect(mail.attachments[0].filename).toBe('report.csv');
      expect(mail.attachments[0].content.toString('utf8')).toMatch(/^job,status,seconds\r?\nbackup,ok,412/);
    } finally {
      // The example keeps its folder for the user to look at; the test tidies it.
      rmSync(dirname(dirname(stored[0])), { recursive: true, force: true });
    }
  });
});
