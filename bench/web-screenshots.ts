/**
 * Takes the screenshots in docs/images/ (run once by hand when the pages
 * change; not a test): the inbox with a message open, and a campaign
 * dashboard in the middle of a run, wide and on a phone. Binds 127.0.0.1 only.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/web-screenshots.js
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import * as mime from '../mime';
import { sendmessage } from '../smtp';
import { startCaptureServer } from '../cli/serve';
import { startDashboard } from '../cli/web/dashboard';
import { recordEnvelope } from '../cli/web/envelopes';
import { startInboxWeb } from '../cli/web/inbox-server';
import type { InboxWeb } from '../cli/web/inbox-server';
import { MemoryLedger } from '../spec/support/memory-ledger';

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

async function dashboardShot(browser: Browser): Promise<void> {
  const domains = ['example.com', 'example.net', 'example.org', 'mail.example', 'post.example'];
  const items = Array.from({ length: 600 }, (_, i) => ({ id: `r${String(i + 1).padStart(4, '0')}`, recipient: `user${i + 1}@${domains[i % 5]}` }));
  const ledger = new MemoryLedger('spring-sale-2026', items);
  const board = await startDashboard({ port: 0, ledger, sampleMs: 250, detailMs: 250 });
  const page = await browser.newPage({ viewport: { width: 960, height: 900 } });
  await page.goto(board.url);
  for (let i = 0; i < 440; i++) {
    const { id } = items[i];
    await ledger.markSending(id);
    if (i === 150 || i === 151) continue; // in flight when a worker died
    if (i % 37 === 5) await ledger.markOutcome(id, { state: 'refused', code: 550, diagnostic: '5.1.1 <' + items[i].recipient + '>: Recipient address rejected: User unknown' });
    else if (i % 97 === 11) await ledger.markOutcome(id, { state: 'failed', code: 552, diagnostic: '5.2.2 mailbox full' });
    else await ledger.markOutcome(id, { state: 'sent', code: 250, diagnostic: '2.0.0 Ok: queued' });
    if (i === 160) ledger.markCrashed();
    if (i === 200) ledger.markBounced('r0010', { status: '5.1.1', reason: 'userunknown', hard: true, diagnostic: 'no such user', at: new Date().toISOString() });
    if (i % 6 === 0) await sleep(20 + (i % 60));
    // Taken mid-run, while the rate is still real.
    if (i === 400) await page.screenshot({ path: join(IMAGES, 'dashboard.png') });
  }
  await page.setViewportSize({ width: 390, height: 760 });
  await sleep(300);
  await page.screenshot({ path: join(IMAGES, 'dashboard-phone.png') });
  await page.close();
  await board.close();
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
    await dashboardShot(browser);
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
