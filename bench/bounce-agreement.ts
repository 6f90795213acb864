/**
 * How far bounce.parse agrees with what Sisimai reads in the sample
 * collection (../shared/bounces, see its README): entry by entry in the
 * order the bounce lists its recipients. Shared by `npm run bench:bounces`
 * and spec/bounce/samples.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '../bounce';
import type { BounceReport } from '../bounce';

/** One entry of expected.json. */
export interface Expected {
  status: string;
  replycode: string;
  reason: string;
  hardbounce: boolean;
  feedbacktype?: string;
}

/** What one sample gave, beside what was expected. */
export interface SampleResult {
  file: string;
  expected: Expected[];
  report: BounceReport | null;
  ms: number;
  /** Disagreements, one line each. */
  notes: string[];
}

export interface Agreement {
  samples: SampleResult[];
  expectedEntries: number;
  /** Σ min(expected, read) over Σ max(expected, read): missing and extra entries both count. */
  entries: number;
  status: number;
  hard: number;
  reason: number;
  nonBounces: { total: number; recognised: number };
  autoReplies: { total: number; recognised: number };
  /** The sum of the samples' times. */
  totalMs: number;
  slowest: { file: string; ms: number };
}

/** The sample folder beside the checkout, or null when it is absent. */
export function samplesDir(root: string): string | null {
  const dir = join(root, '..', 'shared', 'bounces');
  return existsSync(join(dir, 'expected.json')) && existsSync(join(dir, 'eml')) ? dir : null;
}

/**
 * Status agreement as the README defines it: exact for RFC 3463 codes, the
 * class alone for Sisimai's own x.0.9NN codes and for empty statuses.
 */
export function statusAgrees(expected: string, read: string): boolean {
  if (expected === '') return read === '' || read.startsWith('2.');
  const detail = Number(expected.split('.')[2] ?? 0);
  if (expected.split('.')[1] === '0' && detail >= 900) return read[0] === expected[0];
  return read === expected;
}

/**
 * Parses every sample and compares it with expected.json. Each sample's time
 * is the least of `repeat` parses, so that a scheduler pause on a shared
 * machine does not pass for the parser's cost.
 */
export function measure(dir: string, repeat = 1): Agreement {
  const expectedAll = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expected[]>;
  const files = readdirSync(join(dir, 'eml')).filter((f) => f.endsWith('.eml')).sort();
  const samples: SampleResult[] = [];
  let expectedEntries = 0;
  let minSum = 0;
  let maxSum = 0;
  let status = 0;
  let hard = 0;
  let reason = 0;
  const nonBounces = { total: 0, recognised: 0 };
  const autoReplies = { total: 0, recognised: 0 };
  let totalMs = 0;
  let slowest = { file: '', ms: 0 };
  for (const file of files) {
    const expected = expectedAll[file] ?? [];
    const bytes = readFileSync(join(dir, 'eml', file));
    let report: BounceReport | null = null;
    let ms = Infinity;
    for (let i = 0; i < repeat; i += 1) {
      const started = process.hrtime.bigint();
      report = parse(bytes);
      ms = Math.min(ms, Number(process.hrtime.bigint() - started) / 1e6);
    }
    totalMs += ms;
    if (ms > slowest.ms) slowest = { file, ms };
    const notes: string[] = [];
    const read = report?.recipients ?? [];
    if (expected.length === 0) {
      nonBounces.total += 1;
      if (report === null) nonBounces.recognised += 1;
      else notes.push(`not a bounce, read as ${report.kind} with ${read.length} entries`);
    }
    if (expected.some((e) => e.reason === 'vacation')) {
      autoReplies.total += 1;
      if (report?.kind === 'autoreply') autoReplies.recognised += 1;
      else notes.push(`auto-reply read as ${report?.kind ?? 'null'}`);
    }
    expectedEntries += expected.length;
    minSum += Math.min(expected.length, read.length);
    maxSum += Math.max(expected.length, read.length);
    if (expected.length !== read.length) notes.push(`entries: expected ${expected.length}, read ${read.length}`);
    expected.forEach((e, i) => {
      const r = read[i];
      if (r === undefined) return;
      if (statusAgrees(e.status, r.status)) status += 1;
      else notes.push(`#${i} status: expected ${e.status}, read ${r.status}`);
      if (e.hardbounce === r.hard) hard += 1;
      else notes.push(`#${i} hard: expected ${e.hardbounce}, read ${r.hard}`);
      if (e.reason === r.reason) reason += 1;
      else notes.push(`#${i} reason: expected ${e.reason}, read ${r.reason} (${r.address}: ${r.diagnostic.slice(0, 120)})`);
    });
    samples.push({ file, expected, report, ms, notes });
  }
  const share = (n: number, of: number): number => (of === 0 ? 1 : n / of);
  return {
    samples,
    expectedEntries,
    entries: share(minSum, maxSum),
    status: share(status, expectedEntries),
    hard: share(hard, expectedEntries),
    reason: share(reason, expectedEntries),
    nonBounces,
    autoReplies,
    totalMs,
    slowest,
  };
}
