/**
 * For the dashboard tests: the dashboard and the browser a test opens, closed
 * after each test, and the page opened on it with its script errors collected.
 */
import type { Page } from 'playwright-core';
import type { startDashboard } from '../../../cli/web/dashboard';
import { openBrowser } from '../../support/chromium';

type Board = Awaited<ReturnType<typeof startDashboard>>;

/** What a test opened; set by the test or by {@link openPage}. */
export interface DashboardSession {
  board?: Board;
  browser?: Awaited<ReturnType<typeof openBrowser>>;
}

/** A session whose dashboard and browser are closed after each test. */
export function dashboardSession(): DashboardSession {
  const session: DashboardSession = {};
  afterEach(async () => {
    await session.browser?.close();
    await session.board?.close();
    session.browser = undefined;
    session.board = undefined;
  });
  return session;
}

/** Opens `url` (the board's own by default) in a new Chromium page and waits for it to go live; page errors are collected. */
export async function openPage(session: DashboardSession, board: Board, url = board.url): Promise<{ page: Page; errors: string[] }> {
  session.browser = await openBrowser();
  const page = await session.browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.locator('#live.on').waitFor();
  return { page, errors };
}
