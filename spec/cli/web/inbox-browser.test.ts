/**
 * The inbox in Debian's Chromium: messages sent with tclmail's sendmessage to
 * `tclmail serve --web` show up in the list (one live, while the page is
 * open), each opens, an HTML body's script never runs and its remote image is
 * never fetched (a recording HTTP server proves it), hostile text in a subject
 * stays text, the attachment downloads with its bytes, search narrows the
 * list, and delete removes the message.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describeWithChromium, openBrowser } from '../../support/chromium';
import { ensureBuilt, lines, start, stop } from '../helpers';
import { attachmentMessage, htmlMessage, send, startRecorder, startServeWeb, textMessage } from './support';
import type { ServeWeb } from './support';

jest.setTimeout(90_000);

let dir: string;
let server: ServeWeb | undefined;
let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;
let browser: Awaited<ReturnType<typeof openBrowser>> | undefined;

beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => {
  await browser?.close();
  if (server) await stop(server.child);
  await recorder?.close();
  browser = undefined;
  server = undefined;
  recorder = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function rows(page: Page) {
  return page.locator('#list li[data-id]');
}

// The page's globals, for functions that run in the browser (the tests compile without the DOM types).
type BrowserGlobals = { document: { querySelectorAll(selector: string): { length: number }; body: { dataset: Record<string, string> } }; got?: unknown };

/** Waits until the list shows exactly `n` messages. */
function waitForRows(page: Page, n: number) {
  // A function, not a string: the page's policy forbids eval, which a string predicate needs.
  return page.waitForFunction((count) => (globalThis as unknown as BrowserGlobals).document.querySelectorAll('#list li[data-id]').length === count, n);
}

async function open(page: Page, subject: string): Promise<void> {
  await rows(page).filter({ hasText: subject }).first().click();
  await page.locator('#detail h2').filter({ hasText: subject }).waitFor();
}

describeWithChromium('the inbox page in Chromium', () => {
  it('lists, opens, sandboxes HTML, downloads attachments, searches, updates live and deletes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tclmail-web-browser-'));
    recorder = await startRecorder();
    server = await startServeWeb(dir);
    const pixel = `http://127.0.0.1:${recorder.port}`;
    const hostile = `Plain <img src="${pixel}/subject" onerror="document.body.dataset.pwned=1"> & co`;
    const payload = randomBytes(4096);

    await send(server.smtpPort, textMessage(hostile, 'Just text.'), ['bob@example.net', 'blind@example.org']);
    await send(server.smtpPort, htmlMessage('Newsletter', [
      // Every way an HTML body could reach out: each would be a request the recorder sees.
      `<meta http-equiv="refresh" content="0; url=${pixel}/refresh">`,
      `<link rel="stylesheet" href="${pixel}/style.css">`,
      `<style>@import url("${pixel}/import.css"); h1 { background: url("${pixel}/background.gif"); }</style>`,
      `<iframe src="${pixel}/frame"></iframe>`,
      '<h1 id="greeting">Hello from HTML</h1>',
      `<script>document.body.dataset.ran = "yes"; window.top.postMessage("ran", "*"); new Image().src = "${pixel}/script";</script>`,
      `<img id="remote" src="${pixel}/pixel" alt="remote">`,
      `<img src="x" onerror="this.dataset.ran='yes'; new Image().src='${pixel}/onerror'">`,
    ].join('\n')));
    await send(server.smtpPort, textMessage('Grüße aus Köln ✓ 日本', 'Unicode subject.'));
    await send(server.smtpPort, attachmentMessage('With a file', 'résumé ✓.bin', payload));

    browser = await openBrowser();
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Records anything the message's script might post to the page (it must never run).
    await page.addInitScript('window.addEventListener("message", function (event) { window.got = event.data; })');
    await page.goto(server.url);

    await page.locator('#live.on').waitFor();
    await rows(page).nth(3).waitFor();
    expect(await page.locator('#count').textContent()).toBe('4 messages');
    expect(await page.locator('#more').isHidden()).toBe(true);
    const subjects = await rows(page).locator('.subject').allTextContents();
    expect(subjects).toEqual(['With a file', 'Grüße aus Köln ✓ 日本', 'Newsletter', hostile]);
    expect(await rows(page).first().locator('.from').textContent()).toBe('Carl <carl@example.com>');
    expect(await rows(page).first().locator('.to').textContent()).toBe('to dora@example.org');
    expect(await rows(page).first().locator('.meta .att').textContent()).toBe('1 file');

    // Live: a message sent while the page is open appears at the top.
    await send(server.smtpPort, textMessage('Arrived live', 'hi'));
    await rows(page).filter({ hasText: 'Arrived live' }).waitFor();
    expect(await rows(page).first().locator('.subject').textContent()).toBe('Arrived live');
    expect(await page.locator('#count').textContent()).toBe('5 messages');

    // The hostile subject is text: no element was made from it, nothing was fetched.
    await open(page, 'Plain');
    expect(await page.locator('#detail h2').textContent()).toBe(hostile);
    expect(await page.locator('#detail h2 img').count()).toBe(0);
    const envelope = await page.locator('.fields').textContent();
    expect(envelope).toContain('<bob@example.net>, <blind@example.org>');
    expect(envelope).toContain('<sender@example.com>');
    expect(await page.locator('.pane pre').textContent()).toContain('Just text.');

    // The HTML body: rendered in a sandboxed frame, its script dead, its remote image never requested.
    await open(page, 'Newsletter');
    const frameElement = page.locator('iframe[title="HTML body"]');
    expect(await frameElement.getAttribute('sandbox')).toBe('');
    const frame = page.frameLocator('iframe[title="HTML body"]');
    await frame.locator('#greeting').waitFor();
    expect(await frame.locator('#greeting').textContent()).toBe('Hello from HTML');
    await page.waitForTimeout(700);
    expect(await frame.locator('body').getAttribute('data-ran')).toBeNull();
    expect(await frame.locator('img[src="x"]').getAttribute('data-ran')).toBeNull();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).got)).toBeUndefined();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.body.dataset.pwned)).toBeUndefined();
    await page.getByRole('tab', { name: 'Text' }).click();
    expect(await page.locator('.pane pre').textContent()).toContain('The text version.');
    await page.getByRole('tab', { name: 'Parts' }).click();
    expect(await page.locator('.tree .part').allTextContents()).toEqual([
      expect.stringMatching(/^message {2}multipart\/alternative; boundary=/),
      expect.stringMatching(/^1 {2}text\/plain; charset=utf-8/),
      expect.stringMatching(/^2 {2}text\/html; charset=utf-8/),
    ]);
    await page.getByRole('tab', { name: 'Raw' }).click();
    await page.locator('.pane pre').filter({ hasText: 'Subject: Newsletter' }).waitFor();

    await open(page, 'Grüße');
    expect(await page.locator('#detail h2').textContent()).toBe('Grüße aus Köln ✓ 日本');

    // The attachment: a download with its name and its exact bytes.
    await open(page, 'With a file');
    const link = page.locator('.attachments a');
    expect(await link.textContent()).toBe('résumé ✓.bin (4.0 KB)');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toBe('résumé ✓.bin');
    expect(readFileSync((await download.path())!).equals(payload)).toBe(true);

    // Search by address and by subject.
    await page.fill('#q', 'blind@example');
    await waitForRows(page, 1);
    expect(await rows(page).locator('.subject').textContent()).toBe(hostile);
    await page.fill('#q', 'köln');
    await rows(page).first().filter({ hasText: 'Grüße' }).waitFor();
    await waitForRows(page, 1);
    expect(await rows(page).count()).toBe(1);
    await page.fill('#q', '');
    await waitForRows(page, 5);

    // Delete: the row goes, the API agrees.
    await open(page, 'Arrived live');
    await page.locator('button.delete').click();
    await waitForRows(page, 4);
    expect(await page.locator('#count').textContent()).toBe('4 messages');
    const remaining = (await (await fetch(`${server.origin}/api/messages`)).json()) as Array<{ subject: string }>;
    expect(remaining.map((m) => m.subject)).not.toContain('Arrived live');

    // Nothing any message asked for was ever fetched, and the page itself ran without errors.
    expect(recorder.hits).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('lists what the folder held at start, a page at a time', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tclmail-web-browser-'));
    mkdirSync(join(dir, 'new'), { recursive: true });
    for (let i = 0; i < 150; i++) {
      const date = new Date(Date.UTC(2026, 0, 1, 0, i)).toUTCString();
      writeFileSync(join(dir, 'new', `${1767225600 + i}.M0P1Q${i}.test.eml`), `From: a@example.com\r\nTo: b@example.net\r\nSubject: Stored ${i}\r\nDate: ${date}\r\n\r\nbody ${i}\r\n`);
    }
    server = await startServeWeb(dir);
    browser = await openBrowser();
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.locator('#count', { hasText: '150 messages' }).waitFor();
    await waitForRows(page, 100);
    expect(await rows(page).first().locator('.subject').textContent()).toBe('Stored 149');
    await page.locator('#more').click();
    await waitForRows(page, 150);
    expect(await rows(page).last().locator('.subject').textContent()).toBe('Stored 0');
    expect(await page.locator('#more').isHidden()).toBe(true);
  });

  it('reads the list again when the event stream comes back after the server restarted', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tclmail-web-browser-'));
    server = await startServeWeb(dir);
    await send(server.smtpPort, textMessage('Before the restart', 'one'));
    browser = await openBrowser();
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await rows(page).filter({ hasText: 'Before the restart' }).waitFor();

    const webPort = new URL(server.origin).port;
    await stop(server.child);
    await page.locator('#live', { hasText: 'reconnecting' }).waitFor();
    // Stored while no server ran: no event will ever announce it.
    writeFileSync(join(dir, 'new', '1767225600.M0P1Q1.by-hand.eml'), 'From: c@example.com\r\nTo: d@example.net\r\nSubject: While it was down\r\n\r\nhi\r\n');
    const child = start(['serve', '--dir', dir, '--port', '0', '--web', `127.0.0.1:${webPort}`]);
    server = { ...server, child };
    await lines(child).waitFor(/^web: /);
    await page.locator('#live.on').waitFor({ timeout: 20_000 });
    await rows(page).filter({ hasText: 'While it was down' }).waitFor();
    expect(await page.locator('#count').textContent()).toBe('2 messages');
  });
});
