/**
 * `tclmail bulk --status NAME --web` with real processes, watched in Debian's
 * Chromium: a built `tclmail bulk` run (paced with --rate) sends to the
 * capture server while a second `tclmail` serves the dashboard of its journal,
 * and the page's counts follow it to the end; the same for a campaign in a
 * real redis-server delivered by a `tclmail worker`, with pause and resume
 * from the page. Read-only unless --allow-actions, which a file journal
 * refuses. Every server and child is started here on 127.0.0.1 and stopped by PID.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startCaptureServer } from '../../../cli/serve';
import type { CaptureServer } from '../../../cli/serve';
import { openLedgerForStatus } from '../../../smtp/bulk/journal';
import { describeWithChromium, openBrowser } from '../../support/chromium';
import { hasRedis, startRedis } from '../../support/redis';
import type { TestRedis } from '../../support/redis';
import { ensureBuilt, lines, PROGRAM, run, stop } from '../helpers';

jest.setTimeout(120_000);

let work: string;
let server: CaptureServer;
let browser: Awaited<ReturnType<typeof openBrowser>> | undefined;
const children: ChildProcess[] = [];

beforeAll(() => ensureBuilt(), 180_000);

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-dash-cli-'));
  server = await startCaptureServer({ dir: join(work, 'mail'), refuse: (address) => address.startsWith('nobody') });
});

afterEach(async () => {
  await browser?.close();
  browser = undefined;
  for (const child of children.splice(0)) await stop(child);
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}},\nthe spring sale starts today.\n' });

/** `count` rows over three domains; every seventh recipient is refused by the capture server. */
function files(count: number): { template: string; list: string } {
  const rows = ['id,email,name'];
  for (let i = 1; i <= count; i++) {
    const domain = ['example.com', 'example.net', 'example.org'][i % 3];
    rows.push(`u${String(i).padStart(2, '0')},${i % 7 === 0 ? 'nobody' : 'user'}${i}@${domain},Name ${i}`);
  }
  const template = join(work, 'sale.json');
  const list = join(work, 'people.csv');
  writeFileSync(template, TEMPLATE);
  writeFileSync(list, `${rows.join('\n')}\n`);
  return { template, list };
}

function child(args: string[]): { child: ChildProcess; out: ReturnType<typeof lines>; err: () => string } {
  const spawned = spawn(process.execPath, [PROGRAM, ...args], { cwd: work, env: { ...process.env, TCLMAIL_PASSWORD: undefined, TCLMAIL_REDIS_URL: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(spawned);
  let stderr = '';
  spawned.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child: spawned, out: lines(spawned), err: () => stderr };
}

function exited(spawned: ChildProcess): Promise<number | null> {
  if (spawned.exitCode !== null) return Promise.resolve(spawned.exitCode);
  return new Promise((resolve) => spawned.once('exit', (code) => resolve(code)));
}

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const relay = (): string[] => ['--servers', '127.0.0.1', '--ports', String(server.port), '--no-starttls'];

async function tile(page: Page, state: string): Promise<number> {
  return Number(await page.locator(`.state[data-state="${state}"] b`).textContent());
}

/** The `sent` tile read every 100 ms until it shows `final`: the values it went through. */
async function watchSent(page: Page, final: number, ms = 60_000): Promise<number[]> {
  const seen: number[] = [];
  await until(async () => {
    const value = await tile(page, 'sent');
    if (seen[seen.length - 1] !== value) seen.push(value);
    return value === final;
  }, `the page to show sent ${final} (saw ${seen.join(', ')})`, ms);
  return seen;
}

async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  browser ??= await openBrowser();
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.locator('#live.on').waitFor();
  return { page, errors };
}

const post = (url: string, action: string): Promise<Response> => fetch(`${url}api/actions/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

describeWithChromium('tclmail bulk --status --web, in Chromium', () => {
  it('follows a running tclmail bulk through its journal to the final counts, read-only', async () => {
    const { template, list } = files(28);
    const journal = join(work, 'sale.journal');
    browser = await openBrowser(); // before the run starts: the page must see it part way
    const sending = child(['bulk', template, list, ...relay(), '--rate', '3', '--concurrency', '1', '--journal', journal, '--campaign', 'spring-sale', '--progress', 'none']);
    // The run holds the journal's lock from here on; the dashboard reads it without.
    await until(async () => existsSync(journal) && (await openLedgerForStatus(journal).then((l) => l.close().then(() => true), () => false)), 'the journal');
    const board = child(['bulk', '--status', 'spring-sale', '--journal', journal, '--web', '127.0.0.1:0']);
    const [, url] = await board.out.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const { page, errors } = await openPage(url);
    expect(await page.locator('#campaign').textContent()).toBe('spring-sale');
    const seen = await watchSent(page, 24);
    // Live: the page showed the run part way before its end.
    expect(seen[0]).toBeLessThan(24);
    expect(seen.length).toBeGreaterThan(2);
    await page.locator('#summary', { hasText: 'finished' }).waitFor();
    expect(await page.locator('#summary').textContent()).toMatch(/^28 of 28 final \(100%\)/);
    expect(await tile(page, 'refused')).toBe(4);
    expect(await tile(page, 'pending')).toBe(0);
    expect(await exited(sending.child)).toBe(1); // some refused
    await page.locator('#problems tr', { hasText: 'nobody7@example.net' }).waitFor();
    // The diagnostic is the capture server's reply to that RCPT, not the run's summary.
    expect(await page.locator('#problems tr', { hasText: 'nobody7@example.net' }).locator('td').nth(4).textContent()).toMatch(/^5\.1\.1 /);
    expect(await page.locator('#problems tr td:first-child').count()).toBe(4);
    expect(await page.locator('#codes tr').allTextContents()).toEqual(['codeitems', '25024', '5504']);
    expect(await page.locator('#domains tr td:first-child').allTextContents()).toEqual(['example.net', 'example.com', 'example.org', 'all']); // 10, 9, 9 items

    // Read-only: no button, and a POST for any action is refused.
    expect(await page.locator('button[data-action]').count()).toBe(0);
    for (const action of ['resendUncertain', 'pause', 'resume']) expect((await post(url, action)).status).toBe(404);
    expect(errors).toEqual([]);

    // SIGTERM ends the page cleanly.
    expect(await stop(board.child)).toBe(0);
  });

  it('shows the domains a journal run has not reached yet, from the plan it recorded; an older journal gets a "not reached yet" row', async () => {
    // Sorted by domain: example.org's five rows come last, so they have no line in the journal for 7 s at 2 a second.
    const rows = ['id,email,name'];
    for (let i = 0; i < 20; i++) rows.push(`r${String(i).padStart(2, '0')},user${i}@${i < 5 ? 'example.com' : i < 15 ? 'example.net' : 'example.org'},Name ${i}`);
    const template = join(work, 'sale.json');
    const list = join(work, 'sorted.csv');
    writeFileSync(template, TEMPLATE);
    writeFileSync(list, `${rows.join('\n')}\n`);
    const journal = join(work, 'sorted.journal');
    browser = await openBrowser();
    const sending = child(['bulk', template, list, ...relay(), '--rate', '2', '--concurrency', '1', '--journal', journal, '--campaign', 'sorted', '--progress', 'none']);
    await until(async () => existsSync(journal) && (await openLedgerForStatus(journal).then((l) => l.close().then(() => true), () => false)), 'the journal');
    const board = child(['bulk', '--status', 'sorted', '--journal', journal, '--web', '127.0.0.1:0']);
    const [, url] = await board.out.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const { page, errors } = await openPage(url);

    // Part way, before the run reaches example.org: its five rows are in the table, pending, and the table adds up.
    const snapshot = (await (await fetch(`${url}api/campaign`)).json()) as { counts: { sent: number; total: number }; byDomain: Array<{ domain: string; total: number; states: Record<string, number> }>; unreachedItems: number };
    expect(snapshot.counts.total).toBe(20);
    expect(snapshot.counts.sent).toBeLessThan(15);
    expect(snapshot.byDomain.find((row) => row.domain === 'example.org')).toEqual({ domain: 'example.org', total: 5, states: { pending: 5 } });
    expect(snapshot.byDomain.map((row) => [row.domain, row.total])).toEqual([['example.net', 10], ['example.com', 5], ['example.org', 5]]);
    expect(snapshot.unreachedItems).toBe(0);
    await page.locator('#domains tr[data-kind="all"]').waitFor();
    expect((await page.locator('#domains tr', { hasText: 'example.org' }).locator('td').allTextContents()).slice(0, 2)).toEqual(['example.org', '5']);
    expect((await page.locator('#domains tr[data-kind="all"] td').allTextContents())[1]).toBe('20');

    await watchSent(page, 20);
    await page.locator('#domains tr[data-kind="all"] td:nth-child(4)', { hasText: /^20$/ }).waitFor();
    expect(await page.locator('#domains tr', { hasText: 'example.org' }).locator('td').allTextContents()).toEqual(['example.org', '5', '0', '5', '0', '0', '0', '0', '0']);
    expect(await exited(sending.child)).toBe(0);
    expect(errors).toEqual([]);
    expect(await stop(board.child)).toBe(0);

    // A journal written before runs recorded their domains, cut after its first six lines (three rows):
    // the seventeen rows it has no line for cannot be put under a domain, so they are one row of their own.
    const lines = readFileSync(journal, 'utf8').split('\n');
    const manifest = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(manifest.domains).toEqual({ top: [['example.net', 10], ['example.com', 5], ['example.org', 5]], rest: { items: 0, domains: 0, atLeast: false } });
    delete manifest.domains;
    const older = join(work, 'older.journal');
    writeFileSync(older, `${[JSON.stringify(manifest), ...lines.slice(1, 7)].join('\n')}\n`);
    const again = child(['bulk', '--status', 'sorted', '--journal', older, '--web', '127.0.0.1:0']);
    const [, olderUrl] = await again.out.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/);
    const cut = (await (await fetch(`${olderUrl}api/campaign`)).json()) as typeof snapshot;
    expect(cut.counts).toMatchObject({ total: 20, sent: 3 });
    expect(cut.byDomain).toEqual([{ domain: 'example.com', total: 3, states: { sent: 3 } }]);
    expect(cut.unreachedItems).toBe(17);
    const second = await openPage(olderUrl);
    expect(await second.page.locator('#domains tr[data-kind="unreached"] td').allTextContents()).toEqual(['not reached yet (domain not known)', '17', '17', '0', '0', '0', '0', '0', '0']);
    expect((await second.page.locator('#domains tr[data-kind="all"] td').allTextContents())[1]).toBe('20');
    expect(second.errors).toEqual([]);
    expect(await stop(again.child)).toBe(0);

    // Resumed by a run of this version, the older journal gets the plan (a manifest line) and the row is gone.
    expect((await run(['bulk', template, list, ...relay(), '--journal', older, '--campaign', 'sorted', '--progress', 'none'], { cwd: work })).status).toBe(0);
    const manifests = readFileSync(older, 'utf8').split('\n').filter((text) => text.includes('"type":"manifest"'));
    expect(manifests).toHaveLength(2);
    expect((JSON.parse(manifests[1]) as { domains: unknown }).domains).toEqual((JSON.parse(lines[0]) as { domains: unknown }).domains);
  });

  it('refuses --allow-actions for a file journal, and --web flags that do not fit, before it listens', async () => {
    const { template, list } = files(3);
    const journal = join(work, 'small.journal');
    expect((await run(['bulk', template, list, ...relay(), '--journal', journal, '--campaign', 'small', '--progress', 'none'], { cwd: work })).status).toBe(0);
    const actions = await run(['bulk', '--status', 'small', '--journal', journal, '--web', '127.0.0.1:0', '--allow-actions']);
    expect(actions.status).toBe(64);
    expect(actions.stdout).toBe('');
    expect(actions.stderr).toMatch(/no actions to offer: send uncertain rows again with tclmail bulk TEMPLATE LIST --journal FILE --resend-uncertain/);
    const other = await run(['bulk', '--status', 'other', '--journal', journal, '--web', '127.0.0.1:0']);
    expect(other).toMatchObject({ status: 64, stdout: '' });
    expect(other.stderr).toMatch(/holds the campaign "small", not "other"/);
    const json = await run(['bulk', '--status', 'small', '--journal', journal, '--web', '0', '--json']);
    expect(json.status).toBe(64);
    expect(json.stderr).toMatch(/--json prints to the terminal; --web serves the page instead/);
    const bad = await run(['bulk', '--status', 'small', '--journal', journal, '--web', 'localhost:99999']);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/--web expects \[HOST:\]PORT/);
    const lonely = await run(['bulk', '--status', 'small', '--journal', journal, '--web-token']);
    expect(lonely.status).toBe(64);
    expect(lonely.stderr).toMatch(/--web-token and --allow-actions go with --status NAME --web/);
  });

  (hasRedis() ? describe : describe.skip)('with a campaign in Redis', () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis();
    }, 60_000);
    afterAll(async () => {
      await redis?.stop();
    });

    it('pauses and resumes from the page, then follows a tclmail worker to the final counts', async () => {
      const campaign = `fleet-sale-${process.pid}`;
      const { template, list } = files(21);
      const enqueued = await run(['bulk', template, list, '--redis', redis.url, '--campaign', campaign, '--rate', '5'], { cwd: work });
      expect(enqueued.status).toBe(0);
      const board = child(['bulk', '--status', campaign, '--redis', redis.url, '--web', '127.0.0.1:0', '--web-token', '--allow-actions']);
      const [, url, token] = await board.out.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)\?token=([\w-]+)$/);
      expect((await fetch(`${url}api/campaign`)).status).toBe(401);
      const { page, errors } = await openPage(`${url}?token=${token}`);
      expect(await page.locator('button[data-action]').allTextContents()).toEqual(['Resend uncertain', 'Pause', 'Resume']);
      expect(await tile(page, 'pending')).toBe(21);

      const statusLine = async (): Promise<string> => (await run(['bulk', '--status', campaign, '--redis', redis.url])).stdout;
      await page.locator('button[data-action="pause"]').click();
      await page.locator('#notice', { hasText: 'paused' }).waitFor();
      expect(await statusLine()).toMatch(new RegExp(`^campaign ${campaign} \\(paused\\)`));
      await page.locator('button[data-action="resume"]').click();
      await page.locator('#notice', { hasText: 'resumed' }).waitFor();
      expect(await statusLine()).toMatch(new RegExp(`^campaign ${campaign} \\(active\\)`));

      child(['worker', '--redis', redis.url, ...relay()]);
      const seen = await watchSent(page, 18);
      expect(seen[0]).toBeLessThan(18);
      expect(seen.length).toBeGreaterThan(2);
      await page.locator('#summary', { hasText: 'finished' }).waitFor();
      expect(await page.locator('#summary').textContent()).toMatch(/^21 of 21 final \(100%\)/);
      expect(await tile(page, 'refused')).toBe(3);
      await page.locator('#problems tr', { hasText: 'nobody14@example.org' }).waitFor();

      // With nothing uncertain the card (and its button) is hidden; the action answers all the same.
      expect(await page.locator('button[data-action="resendUncertain"]').isVisible()).toBe(false);
      const resend = await fetch(`${url}api/actions/resendUncertain`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });
      expect(resend.status).toBe(200);
      expect(await resend.json()).toEqual({ notice: 'no item is uncertain: nothing was sent again' });
      await page.locator('#notice', { hasText: 'no item is uncertain' }).waitFor();
      expect(errors).toEqual([]);
      expect(await run(['bulk', '--purge', campaign, '--redis', redis.url])).toMatchObject({ status: 0 });
    });
  });
});
