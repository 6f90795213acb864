/**
 * The inbox page's weight and speed: the bytes of its HTML, JavaScript and
 * CSS (uncompressed), the time to index 10,000 captured messages at start,
 * the list API's answer for all of them, and the time Chromium takes from
 * navigation to showing the list with its count, median of five loads.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/web.js [--messages N] [--runs N]
 *
 * Needs /usr/bin/chromium (Debian's chromium package). Binds 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from '../cli/web/dashboard-page';
import { INBOX_CSS, INBOX_HTML, INBOX_JS } from '../cli/web/inbox-page';
import { startInboxWeb } from '../cli/web/inbox-server';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const MESSAGES = option('messages', 10_000);
const RUNS = option('runs', 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** A folder as `tclmail serve --web` leaves it: .eml files in new/ and one envelope line each. */
function fill(dir: string, count: number): void {
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(dir, sub), { recursive: true });
  const start = Date.UTC(2026, 11, 1);
  let log = '';
  for (let i = 0; i < count; i++) {
    const file = `${1796000000 + i}.M${i}P1Q${i}R${randomBytes(4).toString('hex')}.bench.eml`;
    const date = new Date(start + i * 60_000).toUTCString().replace('GMT', '+0000');
    const header = `From: Sender ${i % 50} <sender${i % 50}@example.com>\r\nTo: user${i}@example.${['com', 'net', 'org'][i % 3]}\r\nSubject: =?utf-8?q?Order_=E2=84=96_${i}_confirmed?=\r\nDate: ${date}\r\nMessage-ID: <${i}@bench.example>\r\nMIME-Version: 1.0\r\n`;
    const body = i % 10 === 0
      ? `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour invoice.\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=invoice-${i}.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${randomBytes(600).toString('base64')}\r\n--b--\r\n`
      : `Content-Type: text/plain; charset=utf-8\r\n\r\nThank you for order ${i}.\r\n${'Line of text for the body of the message.\r\n'.repeat(20)}`;
    writeFileSync(join(dir, 'new', file), header + body);
    log += `${JSON.stringify({ file, from: `bounce@example.com`, to: [`user${i}@example.com`], secure: false, client: 'bench', at: new Date(start + i * 60_000).toISOString() })}\n`;
  }
  appendFileSync(join(dir, 'envelopes.jsonl'), log);
}

async function main(): Promise<void> {
  const inboxBytes = [INBOX_HTML, INBOX_JS, INBOX_CSS].map((s) => Buffer.byteLength(s));
  const boardBytes = [DASHBOARD_HTML, DASHBOARD_JS, DASHBOARD_CSS].map((s) => Buffer.byteLength(s));
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-bench-web-'));
  try {
    fill(dir, MESSAGES);
    const t0 = performance.now();
    const web = await startInboxWeb({ listen: { host: '127.0.0.1', port: 0 }, dir });
    const indexMs = performance.now() - t0;
    const origin = `http://127.0.0.1:${web.port}`;

    const apiTimes: number[] = [];
    let apiBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const a = performance.now();
      const body = await (await fetch(`${origin}/api/messages`)).text();
      apiTimes.push(performance.now() - a);
      apiBytes = Buffer.byteLength(body);
    }

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const loads: number[] = [];
    const marks: number[] = [];
    const searches: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const a = performance.now();
        await page.goto(`${origin}/`);
        await page.locator('#count', { hasText: `${MESSAGES} messages` }).waitFor();
        await page.locator('#list li[data-id]').first().waitFor();
        loads.push(performance.now() - a);
        // The page marks when its first list is on screen: milliseconds since navigation started, without the driver's polling.
        marks.push(await page.evaluate(() => performance.getEntriesByName('inbox-listed')[0].startTime));
        const b = performance.now();
        await page.fill('#q', 'user9999@');
        await page.locator('#count', { hasText: /^1 message$/ }).waitFor();
        // The search waits 120 ms for typing to pause: that pause is not work.
        searches.push(performance.now() - b - 120);
        await context.close();
      }
    } finally {
      await browser.close();
      await web.close();
    }
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const ms = (n: number) => `${Math.round(n)} ms`;
    process.stdout.write([
      `inbox page weight (HTML + JS + CSS, uncompressed): ${kb(inboxBytes.reduce((x, y) => x + y))} (${inboxBytes.map(kb).join(' + ')})`,
      `dashboard page weight (HTML + JS + CSS, uncompressed): ${kb(boardBytes.reduce((x, y) => x + y))} (${boardBytes.map(kb).join(' + ')})`,
      `messages: ${MESSAGES}`,
      `index at start (read and summarize every file): ${ms(indexMs)}`,
      `GET /api/messages (all ${MESSAGES}): ${kb(apiBytes)}, median ${ms(median(apiTimes))}`,
      `Chromium, navigation start to first list on screen (the page's own mark): median ${ms(median(marks))} (runs: ${marks.map(ms).join(', ')})`,
      `Chromium, goto() to list and count seen by the driver (fresh context each run): median ${ms(median(loads))} (runs: ${loads.map(ms).join(', ')})`,
      `Chromium, search over ${MESSAGES} to one result (less the 120 ms typing pause): median ${ms(median(searches))}`,
      '',
    ].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
