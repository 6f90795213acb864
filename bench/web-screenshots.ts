/**
 * Takes the screenshots in docs/images/ (run once by hand when the pages
 * change; not a test): the inbox with a message open, and a campaign
 * dashboard of a real `tclmail bulk` run in its middle, wide and on a phone.
 * Binds 127.0.0.1 only.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/web-screenshots.js
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import * as mime from '../mime';
import { sendmessage } from '../smtp';
import { startCaptureServer } from '../cli/serve';
import { recordEnvelope } from '../cli/web/envelopes';
import { startInboxWeb } from '../cli/web/inbox-server';
import type { InboxWeb } from '../cli/web/inbox-server';

const IMAGES = join(__dirname, '..', '..', 'docs', 'images');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function message(from: string, to: string, subject: string, parts: mime.Token[] | string): mime.Token {
  const header: Array<[string, string]> = [['From', from], ['To', to], ['Subject', subject]];
  if (typeof parts === 'string') return mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: parts, header });
  return mime.initialize({ canonical: 'multipart/mixed', parts, header });
}

const NEWSLETTER = `<div style="font-family:Georgia,serif;max-width:520px;margin:auto;color:#222">
<h1 style="color:#2457c5;margin-bottom:4px">Spring sale</h1>
<p style="color:#666;margin-top:0">Everything in the garden shop, 20% off until Sunday.</p>
<img src="https://tracker.example.com/open.gif" alt="(remote image, not loaded)" style="border:1px dashed #aaa;padding:6px;color:#888">
<p>Seeds, tools and pots: <a href="https://shop.example.com/sale">see the sale</a>.</p>
<script>document.title = "this never runs"</script>
<p style="font-size:12px;color:#888">You get this because you signed up at shop.example.com.</p></div>`;

async function inboxShot(browser: Browser, dir: string): Promise<void> {
  let web: InboxWeb | undefined;
  const capture = await startCaptureServer({
    dir,
    onMessage: (m) => void web?.captured(m, recordEnvelope(dir, m)),
  });
  web = await startInboxWeb({ listen: { host: '127.0.0.1', port: 0 }, dir });
  const send = async (token: mime.Token, recipients?: string[]) => {
    await sendmessage(token, { servers: ['127.0.0.1'], ports: [capture.port], originator: 'bounces@shop.example.com', ...(recipients ? { recipients } : {}) });
    mime.finalize(token, { subordinates: 'all' });
    await sleep(30);
  };
  await send(message('Shop <hello@shop.example.com>', 'ann@example.org', 'Confirm your e-mail address', 'Click the link to confirm: https://shop.example.com/c/123'));
  await send(message('Shop <orders@shop.example.com>', 'ann@example.org', 'Order 1042 confirmed', [
    mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'Thank you for your order.' }),
    mime.initialize({ canonical: 'application/pdf', encoding: 'base64', string: Buffer.alloc(48_000, 7), header: [['Content-Disposition', 'attachment; filename="invoice-1042.pdf"']] }),
  ]));
  await send(message('Buchhaltung <rechnung@example.de>', 'bob@example.net', 'Grüße aus Köln: Rechnung März ✓', 'Anbei die Rechnung.'));
  await send(message('Shop <hello@shop.example.com>', 'ann@example.org', 'Password reset requested', 'Someone asked to reset your password.'), ['ann@example.org', 'audit@shop.example.com']);
  const alternative = mime.initialize({
    canonical: 'multipart/alternative',
    parts: [
      mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'Spring sale: 20% off until Sunday.' }),
      mime.initialize({ canonical: 'text/html', param: [['charset', 'utf-8']], string: NEWSLETTER }),
    ],
    header: [['From', 'Garden Shop <news@shop.example.com>'], ['To', 'ann@example.org'], ['Subject', 'Spring sale: 20% off until Sunday']],
  });
  await send(alternative, ['ann@example.org', 'bcc-archive@shop.example.com']);

  const page = await browser.newPage({ viewport: { width: 1100, height: 620 } });
  await page.goto(web.url);
  await page.locator('#list li[data-id]').nth(4).waitFor();
  await page.locator('#list li[data-id]').first().click();
  await page.frameLocator('iframe[title="HTML body"]').locator('h1').waitFor();
  await page.screenshot({ path: join(IMAGES, 'inbox.png') });
  await page.close();
  await web.close();
  await capture.close();
}

/** What the capture server says to the rows that stand for problems: unknown users, a full mailbox, a greylister that never lets go. */
function refusal(address: string): { code: number; message: string } | null {
  if (address.startsWith('nobody')) return { code: 550, message: `5.1.1 <${address}>: no such user here` };
  if (address.startsWith('full')) return { code: 552, message: '5.2.2 mailbox full' };
  if (address.startsWith('grey')) return { code: 450, message: '4.2.0 greylisted, try again later' };
  return null;
}

/** A real campaign: the built `tclmail bulk` sends 400 rows at 12 a second to the capture server while `tclmail bulk --status --web` serves its journal. */
async function dashboardShot(browser: Browser, dir: string): Promise<void> {
  const capture = await startCaptureServer({ dir: join(dir, 'sale-mail'), refuse: refusal });
  const template = join(dir, 'sale.json');
  const list = join(dir, 'people.csv');
  const journal = join(dir, 'spring.journal');
  writeFileSync(template, JSON.stringify({ from: 'News <news@example.com>', subject: 'Spring sale, {{name}}', text: 'Dear {{name}},\nthe spring sale starts today.\n' }));
  const domains = ['example.com', 'example.net', 'example.org', 'mail.example', 'post.example'];
  const rows = ['id,email,name'];
  for (let i = 1; i <= 400; i++) {
    const who = i % 41 === 0 ? 'nobody' : i % 67 === 0 ? 'full' : i % 53 === 0 ? 'grey' : 'user';
    rows.push(`r${String(i).padStart(4, '0')},${who}${i}@${domains[(i * 7) % 5]},Name ${i}`);
  }
  writeFileSync(list, `${rows.join('\n')}\n`);
  // The program as users run it: dist/ from `npm run build` (the bench build holds only what the bench imports).
  const program = join(__dirname, '..', '..', 'dist', 'cli', 'tclmail.js');
  if (!existsSync(program)) throw new Error(`${program} is missing: run npm run build first`);
  const relay = ['--servers', '127.0.0.1', '--ports', String(capture.port), '--no-starttls'];
  const sending = spawn(process.execPath, [program, 'bulk', template, list, ...relay, '--rate', '12', '--concurrency', '4', '--retries', '1', '--retry-delay', '3', '--journal', journal, '--campaign', 'spring-sale-2026', '--progress', 'none'], { stdio: 'ignore' });
  while (!existsSync(journal)) {
    if (sending.exitCode !== null) throw new Error(`tclmail bulk exited with ${sending.exitCode} before writing its journal`);
    await sleep(100);
  }
  await sleep(500);
  const board = spawn(process.execPath, [program, 'bulk', '--status', 'spring-sale-2026', '--journal', journal, '--web', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => board.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const match = /dashboard: (\S+)/.exec(chunk);
    if (match) resolve(match[1]);
  }));
  const page = await browser.newPage({ viewport: { width: 960, height: 900 } });
  await page.goto(url);
  // Taken mid-run, with 20 seconds of rate on the chart.
  await sleep(20_000);
  await page.screenshot({ path: join(IMAGES, 'dashboard.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(1200);
  await page.screenshot({ path: join(IMAGES, 'dashboard-phone.png') });
  await page.close();
  process.kill(board.pid!, 'SIGTERM');
  process.kill(sending.pid!, 'SIGTERM');
  await Promise.all([once(board, 'exit'), once(sending, 'exit')]);
  await capture.close();
}

async function main(): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-shots-'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await inboxShot(browser, dir);
    await dashboardShot(browser, dir);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const name of ['inbox.png', 'dashboard.png', 'dashboard-phone.png']) {
    process.stdout.write(`${name}: ${(statSync(join(IMAGES, name)).size / 1024).toFixed(1)} KB\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
