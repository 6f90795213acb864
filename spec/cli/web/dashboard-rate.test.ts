/**
 * The dashboard's rate in Debian's Chromium: a campaign already 300 items
 * along when the page opens, a burst of outcomes read by a script a few
 * milliseconds apart, then a steady 10 messages a second. The chart must open
 * on a true rate (no peak made of a burst over a few milliseconds), and a
 * resend that makes the count of final items go down must start a new line
 * and a new rate rather than read as nothing moving.
 */
import type { Page } from 'playwright-core';
import { startDashboard } from '../../../cli/web/dashboard';
import type { DashboardSnapshot } from '../../../cli/web/dashboard';
import { describeWithChromium } from '../../support/chromium';
import { dashboardSession, openPage } from './dashboard-support';
import { MemoryLedger } from '../../support/memory-ledger';

jest.setTimeout(60_000);

const session = dashboardSession();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** 500 items: 300 sent and 60 uncertain before anyone watches, 140 pending. */
function campaign(): MemoryLedger {
  const items = [];
  for (let i = 0; i < 500; i++) {
    const state = i < 300 ? ('sent' as const) : i < 360 ? ('uncertain' as const) : ('pending' as const);
    items.push({ id: `item-${String(i).padStart(3, '0')}`, recipient: `user${i}@example.com`, state });
  }
  return new MemoryLedger('rate', items);
}

/** Sends `count` pending items, from `next`, one every `everyMs`; returns the next index. */
async function steady(ledger: MemoryLedger, next: number, count: number, everyMs: number): Promise<number> {
  for (let i = 0; i < count; i++, next++) {
    const id = `item-${String(next).padStart(3, '0')}`;
    await ledger.markSending(id);
    await ledger.markOutcome(id, { state: 'sent', code: 250 });
    if (everyMs > 0) await sleep(everyMs);
  }
  return next;
}

/** The chart's highest rate, as its top label says. */
async function chartMax(page: Page): Promise<number> {
  return Number(await page.locator('#chart text.max').textContent());
}

describeWithChromium('the dashboard rate in Chromium', () => {
  it('opens on a true rate, not on a burst read a few milliseconds apart, and starts again after the count went down', async () => {
    const ledger = campaign();
    const board = (session.board = await startDashboard({ port: 0, ledger, sampleMs: 1000, detailMs: 1000 }));
    const { page, errors } = await openPage(session, board);
    expect(await page.locator('#summary').textContent()).toMatch(/^360 of 500 final .* 0\.0 msg\/s/);

    // A script reads the campaign, 20 outcomes land at once (one group write), it reads again.
    const read = async (): Promise<DashboardSnapshot> => (await fetch(`${board.url}api/campaign`)).json() as Promise<DashboardSnapshot>;
    await read();
    let next = await steady(ledger, 360, 20, 0);
    await read();
    // Then a steady 10 a second for 4 seconds.
    next = await steady(ledger, next, 40, 100);
    await sleep(1200);

    // Kept samples are at least half a tick apart, so no interval is a few milliseconds long:
    // the burst is spread over at least 0.5 s (at most 40/s with the steady ones) instead of hundreds a second.
    const snapshot = await read();
    const rates = snapshot.rates.flat();
    expect(rates.length).toBeGreaterThanOrEqual(3);
    for (const [, rate] of rates) expect(rate).toBeLessThanOrEqual(60);
    for (let i = 1; i < snapshot.samples.length; i++) expect(snapshot.samples[i][0] - snapshot.samples[i - 1][0]).toBeGreaterThanOrEqual(500);
    await page.locator('#chart polyline').first().waitFor();
    expect(await chartMax(page)).toBeLessThanOrEqual(60);
    expect(await chartMax(page)).toBeGreaterThanOrEqual(5);

    // The 60 uncertain items are resent: 60 fewer are final. Sending goes on at 10 a second.
    expect(ledger.releaseUncertain()).toBe(60);
    await sleep(1200);
    next = await steady(ledger, next, 30, 100);
    // The rate is taken since the drop, not against the higher count from before it.
    const after = await read();
    expect(after.rate).toBeGreaterThan(4);
    expect(after.rate).toBeLessThanOrEqual(20);
    expect(after.rates.length).toBeGreaterThanOrEqual(2);
    for (const [, rate] of after.rates.flat()) expect(rate).toBeGreaterThanOrEqual(0);
    await page.locator('#summary', { hasText: '390 of 500 final' }).waitFor();
    const shown = Number(/ ([\d.]+) msg\/s/.exec((await page.locator('#summary').textContent()) ?? '')?.[1]);
    expect(shown).toBeGreaterThan(4);
    // One line before the resend, one after: no line bridges the drop.
    expect(await page.locator('#chart polyline').count()).toBeGreaterThanOrEqual(2);
    expect(next).toBe(450);
    expect(errors).toEqual([]);
  });
});
