/**
 * The campaign dashboard in Debian's Chromium, over an in-memory ledger (a
 * real implementation of the ledger contract) that the test drives as a run
 * would: the page's counts and progress reach their final values live, the
 * reply codes, domains, uncertain and refused/bounced items show with their
 * diagnostics (hostile text stays text), it fits a phone, it is read-only
 * unless actions are given, and it asks for its token when told to.
 */
import type { Page } from 'playwright-core';
import { startDashboard } from '../../../cli/web/dashboard';
import { describeWithChromium, openBrowser } from '../../support/chromium';
import { MemoryLedger } from '../../support/memory-ledger';
import { startRecorder } from './support';

jest.setTimeout(60_000);

type Board = Awaited<ReturnType<typeof startDashboard>>;
let board: Board | undefined;
let browser: Awaited<ReturnType<typeof openBrowser>> | undefined;
let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;

afterEach(async () => {
  await browser?.close();
  await board?.close();
  await recorder?.close();
  browser = undefined;
  board = undefined;
  recorder = undefined;
});

// The page's globals, for functions that run in the browser (the tests compile without the DOM types).
type BrowserGlobals = { document: { documentElement: { scrollWidth: number }; body: { dataset: Record<string, string> } } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** 40 items over three domains. */
function campaign(): MemoryLedger {
  const items = [];
  for (let i = 0; i < 40; i++) {
    const domain = ['example.com', 'example.net', 'example.org'][i % 3];
    items.push({ id: `item-${String(i).padStart(2, '0')}`, recipient: `user${i}@${domain}` });
  }
  return new MemoryLedger('spring-sale', items);
}

/**
 * Runs the campaign as sendmany would, a few items at a time: example.net
 * refuses user4, one item fails, two are in flight at a "crash" (uncertain),
 * one sent item bounces later.
 */
async function drive(ledger: MemoryLedger, hostile: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const id = `item-${String(i).padStart(2, '0')}`;
    await ledger.markSending(id);
    if (i === 38 || i === 39) continue; // in flight when the run dies
    if (i === 4) await ledger.markOutcome(id, { state: 'refused', code: 550, diagnostic: hostile });
    else if (i === 7) await ledger.markOutcome(id, { state: 'failed', code: null, diagnostic: 'connection refused by 127.0.0.1:25' });
    else if (i === 10) {
      await ledger.markDeferred(id, { code: 451, diagnostic: '4.7.1 greylisted, try later' });
      await ledger.markSending(id);
      await ledger.markOutcome(id, { state: 'sent', code: 250, diagnostic: '2.0.0 queued' });
    } else await ledger.markOutcome(id, { state: 'sent', code: 250, diagnostic: '2.0.0 queued' });
    if (i % 4 === 3) await sleep(60);
  }
  ledger.markCrashed();
  ledger.markBounced('item-05', { status: '5.1.1', reason: 'userunknown', hard: true, diagnostic: 'no such user here', at: new Date().toISOString() });
}

async function tile(page: Page, state: string): Promise<string | null> {
  return page.locator(`.state[data-state="${state}"] b`).textContent();
}

describeWithChromium('the campaign dashboard in Chromium', () => {
  it('shows a run live until its counts are final, with codes, domains, uncertain and problem items', async () => {
    recorder = await startRecorder();
    const hostile = `5.1.1 <img src="http://127.0.0.1:${recorder.port}/diag" onerror="document.body.dataset.pwned=1"> unknown`;
    const ledger = campaign();
    board = await startDashboard({ port: 0, ledger, sampleMs: 100, detailMs: 100 });
    expect(board.url).toBe(`http://127.0.0.1:${board.port}/`);
    browser = await openBrowser();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(board.url);
    await page.locator('#live.on').waitFor();
    expect(await page.locator('#campaign').textContent()).toBe('spring-sale');
    expect(await tile(page, 'pending')).toBe('40');

    await drive(ledger, hostile);
    await page.locator('#summary', { hasText: 'finished' }).waitFor();
    await page.locator('.state[data-state="bounced"] b', { hasText: '1' }).waitFor();
    expect(await page.locator('#summary').textContent()).toMatch(/^40 of 40 final \(100%\)/);
    const expected: Record<string, string> = { pending: '0', sending: '0', deferred: '0', sent: '35', refused: '1', failed: '1', uncertain: '2', bounced: '1' };
    for (const [state, count] of Object.entries(expected)) expect([state, await tile(page, state)]).toEqual([state, count]);
    expect(await page.locator('#bar').getAttribute('aria-valuenow')).toBe('100');
    expect(await page.locator('#chart polyline').count()).toBe(1);

    const codes = await page.locator('#codes tr').allTextContents();
    expect(codes).toEqual(['codeitems', '25036', '5501', 'none1']);
    const domains = await page.locator('#domains tr td:first-child').allTextContents();
    expect(domains).toEqual(['example.com', 'example.net', 'example.org', 'all']);
    // domain, items, waiting, sent, refused, failed, bounced, uncertain, skipped
    expect(await page.locator('#domains tr', { hasText: 'example.net' }).locator('td').allTextContents()).toEqual(['example.net', '13', '0', '11', '1', '1', '0', '0', '0']);
    expect(await page.locator('#domains tr[data-kind="all"] td').allTextContents()).toEqual(['all', '40', '0', '35', '1', '1', '1', '2', '0']);

    expect(await page.locator('#uncertain-count').textContent()).toBe('2');
    expect(await page.locator('#uncertain tr td:first-child').allTextContents()).toEqual(['item-38', 'item-39']);
    expect(await page.locator('#uncertain-card .hint').textContent()).toContain('tclmail bulk --resend-uncertain');
    const problems = await page.locator('#problems tr').allTextContents();
    expect(problems).toHaveLength(4);
    expect(await page.locator('#problems tr', { hasText: 'item-04' }).locator('td').nth(4).textContent()).toBe(hostile);
    expect(await page.locator('#problems tr', { hasText: 'item-05' }).textContent()).toContain('bounced 5.1.1: no such user here');
    expect(await page.locator('#problems img').count()).toBe(0);
    // Read-only: no action is offered, and none is taken when asked.
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(await page.locator('#control').isHidden()).toBe(true);
    const refused = await fetch(`${board.url}api/actions/resendUncertain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(404);
    expect(await tile(page, 'uncertain')).toBe('2');

    // Readable on a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 800 });
    await sleep(200);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    expect(recorder.hits).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.body.dataset.pwned)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('offers exactly the actions it was given, and runs them on a JSON POST only', async () => {
    const ledger = campaign();
    await drive(ledger, '5.1.1 unknown');
    let paused = 0;
    board = await startDashboard({
      port: 0,
      ledger,
      sampleMs: 100,
      detailMs: 100,
      actions: {
        resendUncertain: async () => `${ledger.releaseUncertain()} uncertain items queued again`,
        pause: async () => {
          paused += 1;
        },
      },
    });
    browser = await openBrowser();
    const page = await browser.context.newPage();
    await page.goto(board.url);
    await page.locator('#live.on').waitFor();
    expect(await page.locator('button[data-action]').allTextContents()).toEqual(['Resend uncertain', 'Pause']);

    // A form on another site cannot send JSON: a plain POST is refused and changes nothing.
    const forged = await fetch(`${board.url}api/actions/pause`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
    expect(forged.status).toBe(415);
    expect((await fetch(`${board.url}api/actions/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
    expect(paused).toBe(0);

    await page.locator('button[data-action="pause"]').click();
    await page.locator('#notice', { hasText: 'pause done' }).waitFor();
    expect(paused).toBe(1);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('button[data-action="resendUncertain"]').click();
    await page.locator('#notice', { hasText: '2 uncertain items queued again' }).waitFor();
    await page.locator('.state[data-state="pending"] b', { hasText: '2' }).waitFor();
    expect(await tile(page, 'uncertain')).toBe('0');
  });

  it('asks for its token when given one, in the query or as a Bearer header', async () => {
    board = await startDashboard({ port: 0, ledger: campaign(), token: true });
    const token = board.token!;
    expect(board.url).toBe(`http://127.0.0.1:${board.port}/?token=${token}`);
    const origin = `http://127.0.0.1:${board.port}`;
    expect((await fetch(`${origin}/`)).status).toBe(401);
    expect((await fetch(`${origin}/api/campaign`)).status).toBe(401);
    expect((await fetch(`${origin}/api/campaign`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const snapshot = (await (await fetch(`${origin}/api/campaign?token=${token}`)).json()) as { counts: { total: number; pending: number } };
    expect(snapshot.counts).toMatchObject({ total: 40, pending: 40 });
    browser = await openBrowser();
    const page = await browser.context.newPage();
    await page.goto(board.url);
    await page.locator('#live.on').waitFor();
    expect(await tile(page, 'pending')).toBe('40');
  });

  it('refuses options that cannot work before it listens', async () => {
    await expect(startDashboard({ port: 0 } as never)).rejects.toThrow(/the ledger option/);
    await expect(startDashboard({ port: 70000, ledger: campaign() })).rejects.toThrow(/port expects a whole number/);
  });
});
