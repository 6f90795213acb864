/**
 * The dashboard's table by recipient domain in Debian's Chromium: a campaign
 * of 26 domains, most of them not reached yet, over the in-memory ledger and
 * over a real redis-server (the fleet's ledger). Every item must be in the
 * table: the 20 domains with the most items one by one (those whose items are
 * all pending too), the other 6 summed in one row, and an "all" row equal to
 * the campaign's total.
 */
import type { Page } from 'playwright-core';
import { startDashboard } from '../../../cli/web/dashboard';
import type { DashboardLedger, DashboardSnapshot } from '../../../cli/web/dashboard';
import { openFleet } from '../../../smtp/bulk/fleet';
import type { Fleet } from '../../../smtp/bulk/fleet';
import { describeWithChromium } from '../../support/chromium';
import { dashboardSession, openPage } from './dashboard-support';
import { MemoryLedger } from '../../support/memory-ledger';
import { hasRedis, startRedis } from '../../support/redis';
import type { TestRedis } from '../../support/redis';

jest.setTimeout(60_000);

const session = dashboardSession();

/** Domain d00 has 26 items, d01 25, ... d25 1: 351 in all. */
const DOMAINS = Array.from({ length: 26 }, (_, i) => ({ name: `d${String(i).padStart(2, '0')}.example`, items: 26 - i }));
const TOTAL = 351;

function recipients(): Array<{ id: string; recipient: string }> {
  const list = [];
  for (const { name, items } of DOMAINS) for (let n = 0; n < items; n++) list.push({ id: `${name.slice(0, 3)}-${n}`, recipient: `user${n}@${name}` });
  return list;
}

/** The table's rows as the page shows them: first cell, then the counts. */
async function domainRows(page: Page): Promise<Array<{ kind: string; cells: string[] }>> {
  const rows = page.locator('#domains tr[data-kind]');
  const result = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    result.push({ kind: (await row.getAttribute('data-kind')) ?? '', cells: await row.locator('td').allTextContents() });
  }
  return result;
}

/** Checks the table of a campaign of which only d00 has been worked on (`sent` of its items sent). */
async function checkTable(page: Page, sent: number): Promise<void> {
  await page.locator('#domains tr[data-kind="all"]').waitFor();
  const rows = await domainRows(page);
  const domains = rows.filter((row) => row.kind === 'domain');
  // The 20 domains with the most items, one by one, d02 to d19 not reached at all.
  expect(domains.map((row) => row.cells[0])).toEqual(DOMAINS.slice(0, 20).map((d) => d.name));
  // columns: domain, items, waiting, sent, refused, failed, bounced, uncertain, skipped
  expect(domains[0].cells).toEqual(['d00.example', '26', String(26 - sent), String(sent), '0', '0', '0', '0', '0']);
  expect(domains[19].cells).toEqual(['d19.example', '7', '7', '0', '0', '0', '0', '0', '0']);
  // The other six (6 + 5 + 4 + 3 + 2 + 1 items), summed.
  expect(rows.filter((row) => row.kind === 'other').map((row) => row.cells)).toEqual([['other 6 domains', '21', '21', '0', '0', '0', '0', '0', '0']]);
  expect(rows.filter((row) => row.kind === 'unreached')).toEqual([]);
  // It adds up: every row's items, and the "all" row, make the campaign's total.
  const all = rows.find((row) => row.kind === 'all')!;
  expect(all.cells).toEqual(['all', String(TOTAL), String(TOTAL - sent), String(sent), '0', '0', '0', '0', '0']);
  expect(rows.filter((row) => row.kind !== 'all').reduce((sum, row) => sum + Number(row.cells[1]), 0)).toBe(TOTAL);
  expect(await page.locator('#summary').textContent()).toMatch(new RegExp(`^${sent} of ${TOTAL} final`));
}

async function open(ledger: DashboardLedger): Promise<{ page: Page; snapshot: DashboardSnapshot; errors: string[] }> {
  const board = (session.board = await startDashboard({ port: 0, ledger, sampleMs: 100, detailMs: 100 }));
  const { page, errors } = await openPage(session, board);
  const snapshot = (await (await fetch(`${board.url}api/campaign`)).json()) as DashboardSnapshot;
  return { page, snapshot, errors };
}

describeWithChromium('the table by domain in Chromium', () => {
  it('shows every domain of an in-memory campaign, unreached ones too, bounded to 20 rows and an "other" row', async () => {
    const ledger = new MemoryLedger('domains', recipients());
    for (let n = 0; n < 10; n++) {
      await ledger.markSending(`d00-${n}`);
      await ledger.markOutcome(`d00-${n}`, { state: 'sent', code: 250 });
    }
    const { page, snapshot, errors } = await open(ledger);
    expect(snapshot.byDomain).toHaveLength(20);
    expect(snapshot.otherDomains).toEqual({ domains: 6, atLeast: false, total: 21, states: { pending: 21 } });
    expect(snapshot.unreachedItems).toBe(0);
    await checkTable(page, 10);
    // Still within a phone's width.
    await page.setViewportSize({ width: 390, height: 800 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
  });

  (hasRedis() ? describe : describe.skip)('with a campaign in Redis', () => {
    let redis: TestRedis;
    let fleet: Fleet;
    beforeAll(async () => {
      redis = await startRedis();
      fleet = await openFleet(redis.url);
    }, 60_000);
    afterAll(async () => {
      await fleet?.close();
      await redis?.stop();
    });

    it('shows every domain of a fleet campaign, all pending, bounded the same way', async () => {
      await fleet.enqueueCampaign({
        campaign: 'domains',
        sender: 'news@example.com',
        template: { bytes: Buffer.from('From: news@example.com\r\nSubject: hi\r\n\r\nHello.\r\n') },
        items: recipients().map(({ id, recipient }) => ({ id, recipient })),
      });
      const ledger = fleet.ledger('domains', '');
      const { page, snapshot, errors } = await open(ledger);
      expect(snapshot.counts).toMatchObject({ total: TOTAL, pending: TOTAL });
      expect(snapshot.byDomain.map((row) => row.total)).toEqual(DOMAINS.slice(0, 20).map((d) => d.items));
      await checkTable(page, 0);
      expect(errors).toEqual([]);
      await fleet.purge('domains');
    });
  });
});
