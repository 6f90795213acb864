/**
 * `tclmail bulk --status NAME --journal FILE`: where a campaign stands, read
 * from its journal without taking the lock (a run may be writing it). The
 * counts come from the ledger contract's `counts()`, so another ledger (the
 * fleet's Redis) can be shown by the same code: {@link showStatus} takes any
 * opener.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { CampaignCounts, Ledger } from '../smtp/bulk/ledger';
import { ITEM_STATES } from '../smtp/bulk/ledger';
import { line, UsageError } from './args';
import type { Io } from './args';
import { csvLine, reportCell } from './csv';

/** How a status is asked for. */
export interface StatusRequest {
  campaign: string;
  json: boolean;
  follow: boolean;
  report?: string;
  /** Seconds between two looks with --follow. */
  intervalSecs?: number;
}

const BAR_WIDTH = 24;

/** One line: the counts that are not zero. */
export function statusLine(counts: CampaignCounts): string {
  const parts = ITEM_STATES.filter((s) => counts[s] > 0).map((s) => `${s} ${counts[s]}`);
  return `${counts.campaign}: ${counts.done}/${counts.total} done${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

function bar(counts: CampaignCounts): string {
  const filled = counts.total === 0 ? BAR_WIDTH : Math.round((counts.done / counts.total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${statusLine(counts)}`;
}

/** Writes every item of the ledger as a CSV report (id, recipient, status, code, diagnostic, at), cells escaped for spreadsheets. */
export async function writeLedgerReport(ledger: Ledger, path: string): Promise<number> {
  const fd = openSync(path, 'w');
  let count = 0;
  try {
    writeSync(fd, csvLine(['id', 'recipient', 'status', 'code', 'diagnostic', 'at']));
    for await (const item of ledger.items()) {
      const code = item.code === undefined || item.code === null ? '' : String(item.code);
      writeSync(fd, csvLine([item.id, item.recipient ?? '', item.state, code, item.diagnostic ?? '', item.at ?? ''].map(reportCell)));
      count++;
    }
  } finally {
    closeSync(fd);
  }
  return count;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shows a campaign's status from the ledger `open()` gives (opened afresh for
 * each look with --follow, and closed after). Resolves to the exit status.
 */
export async function showStatus(open: () => Promise<Ledger>, request: StatusRequest, io: Io): Promise<number> {
  const look = async (): Promise<{ counts: CampaignCounts; ledger: Ledger }> => {
    const ledger = await open();
    try {
      const counts = await ledger.counts();
      if (counts.campaign !== request.campaign) {
        throw new UsageError(`the journal holds the campaign ${JSON.stringify(counts.campaign)}, not ${JSON.stringify(request.campaign)}`);
      }
      return { counts, ledger };
    } catch (error) {
      await ledger.close();
      throw error;
    }
  };
  const terminal = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let { counts, ledger } = await look();
  if (request.follow) {
    // Until every item is done: one line redrawn on a terminal, a line per change elsewhere.
    let last = '';
    for (;;) {
      const text = statusLine(counts);
      if (terminal) io.stderr.write(`\r${bar(counts)}\x1b[K`);
      else if (text !== last) line(io.stderr, text);
      last = text;
      if (counts.done >= counts.total) break;
      await ledger.close();
      await sleep((request.intervalSecs ?? 1) * 1000);
      ({ counts, ledger } = await look());
    }
    if (terminal) io.stderr.write('\n');
  }
  try {
    if (request.report !== undefined) await writeLedgerReport(ledger, request.report);
  } finally {
    await ledger.close();
  }
  if (request.json) line(io.stdout, JSON.stringify(counts));
  else line(io.stdout, statusLine(counts));
  return 0;
}
