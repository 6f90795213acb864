/**
 * Debian's Chromium driven by playwright-core, for the browser tests: a fresh
 * profile in a temporary folder each time, no network services of its own
 * (sync, updates, QUIC), so the only requests it makes are the page's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let warned = false;

/** True when Debian's chromium package is installed. */
export function hasChromium(): boolean {
  const found = existsSync(CHROMIUM);
  if (!found && !warned) {
    warned = true;
    // eslint-disable-next-line no-console
    console.warn(`Browser tests skipped: ${CHROMIUM} is missing; install it with "apt-get install -y chromium".`);
  }
  return found;
}

/** `describe` when Chromium is there, `describe.skip` (with the warning above) when it is not. */
export const describeWithChromium: jest.Describe = ((name: string, fn: () => void) =>
  hasChromium() ? describe(name, fn) : describe.skip(`${name} (skipped: ${CHROMIUM} not installed)`, fn)) as jest.Describe;

/** A browser with a fresh profile; `close` ends it and removes the profile. */
export async function openBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'tclmail-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    acceptDownloads: true,
    viewport: options.viewport ?? { width: 1200, height: 800 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
