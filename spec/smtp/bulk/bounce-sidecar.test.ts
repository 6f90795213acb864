/**
 * The bounce sidecar of a file journal: written while a run holds the
 * journal's lock, folded in by the ledger on open and on every report; many
 * writers at once never interleave lines; a torn last line is skipped; a
 * long diagnostic is cut so a line stays one short write.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendBounces, BounceSidecar, foldBounce, MAX_LINE, sidecarPath } from '../../../smtp/bulk/bounce-sidecar';
import { FileLedger } from '../../../smtp/bulk/journal';
import { ensureBuilt, ROOT } from '../../cli/helpers';

const DIGEST = 'd'.repeat(32);
let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-sidecar-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const hard = { action: 'failed', status: '5.1.1', reason: 'userunknown', hard: true, diagnostic: '550 no such user', at: '2026-12-07T09:00:00Z' };
const soft = { action: 'failed', status: '4.2.2', reason: 'mailboxfull', hard: false, diagnostic: '452 full', at: '2026-12-07T09:00:01Z' };
const ok = { action: 'delivered', status: '2.0.0', reason: '', hard: false, diagnostic: '', at: '2026-12-07T09:00:02Z' };
const later = { action: 'delayed', status: '4.4.1', reason: 'expired', hard: false, diagnostic: '', at: '2026-12-07T09:00:03Z' };

test('the fold: a hard bounce is never undone; a success clears a soft one; a delay changes nothing', () => {
  expect(foldBounce(foldBounce(undefined, hard), ok)).toMatchObject({ status: '5.1.1', hard: true });
  expect(foldBounce(foldBounce(undefined, hard), soft)).toMatchObject({ status: '5.1.1' });
  expect(foldBounce(foldBounce(undefined, soft), ok)).toBeUndefined();
  expect(foldBounce(foldBounce(undefined, soft), later)).toMatchObject({ status: '4.2.2' });
  expect(foldBounce(foldBounce(undefined, soft), hard)).toMatchObject({ status: '5.1.1', hard: true });
  expect(foldBounce(undefined, later)).toBeUndefined();
});

test('a running ledger (holding the lock) reports bounces written beside it after it opened', async () => {
  const journal = join(work, 'run.jsonl');
  const ledger = await FileLedger.open(journal, { campaign: 'run', list: { listDigest: '', total: 3 } });
  try {
    for (const id of ['a', 'b', 'c']) {
      await ledger.admit(id, DIGEST, `${id}@example.com`);
      await ledger.markSending(id);
    }
    await ledger.markOutcome('a', { state: 'sent', code: 250 });
    await ledger.markOutcome('b', { state: 'sent', code: 250 });
    await ledger.markOutcome('c', { state: 'refused', code: 550 });
    appendBounces(journal, [{ id: 'a', ...hard }, { id: 'c', ...hard }]);
    expect(await ledger.counts()).toMatchObject({ sent: 1, bounced: 1, refused: 1, done: 3 });
    expect(await ledger.lookup('a')).toMatchObject({ state: 'bounced', bounce: { status: '5.1.1', hard: true } });
    // A bounce for an item that was refused, never accepted, does not make it bounced.
    expect(await ledger.lookup('c')).toMatchObject({ state: 'refused' });
    const states: string[] = [];
    for await (const item of ledger.items()) states.push(`${item.id}:${item.state}`);
    expect(states.sort()).toEqual(['a:bounced', 'b:sent', 'c:refused']);
  } finally {
    await ledger.close();
  }
  const again = await FileLedger.openReadOnly(journal);
  try {
    expect(again.stateOf('a')).toBe('bounced');
    expect(again.stateOf('b')).toBe('sent');
  } finally {
    await again.close();
  }
});

test('a torn last line and foreign lines are skipped; the torn line is read once completed', () => {
  const journal = join(work, 'run.jsonl');
  appendBounces(journal, [{ id: 'a', ...soft }]);
  appendFileSync(sidecarPath(journal), 'not json\n{"id":"x"}\n{"id":"b","action":"failed","status":"5.1.1","reason":"userunknown","hard":true,"diagnostic":"","at":"2026');
  const sidecar = new BounceSidecar(journal).refresh();
  expect(sidecar.get('a')).toMatchObject({ status: '4.2.2' });
  expect(sidecar.get('b')).toBeUndefined();
  appendFileSync(sidecarPath(journal), '-12-07T09:00:00Z"}\n');
  expect(sidecar.refresh().get('b')).toMatchObject({ hard: true });
  expect(sidecar.size).toBe(2);
});

test('a diagnostic of any length leaves a line under MAX_LINE bytes', () => {
  const journal = join(work, 'run.jsonl');
  appendBounces(journal, [{ id: 'a', ...hard, diagnostic: 'é'.repeat(10_000) }]);
  const text = readFileSync(sidecarPath(journal), 'utf8');
  expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_LINE);
  expect(new BounceSidecar(journal).refresh().get('a')).toMatchObject({ status: '5.1.1' });
});

test('four processes appending at once: every line whole, none lost', async () => {
  const journal = join(work, 'run.jsonl');
  ensureBuilt();
  const modulePath = join(ROOT, 'dist', 'smtp', 'bulk', 'bounce-sidecar.js');
  const script = `
    const { appendBounces } = require(${JSON.stringify(modulePath)});
    const w = process.argv[1];
    for (let i = 0; i < 200; i++) appendBounces(${JSON.stringify(journal)}, [{ id: w + '-' + i, action: 'failed', status: '5.1.1', reason: 'userunknown', hard: true, diagnostic: 'x'.repeat(1500), at: new Date().toISOString() }]);
  `;
  await Promise.all(
    ['w0', 'w1', 'w2', 'w3'].map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script, w], { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          child.stderr.on('data', (c: Buffer) => (err += c.toString()));
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(err))));
        }),
    ),
  );
  const lines = readFileSync(sidecarPath(journal), 'utf8').trimEnd().split('\n');
  expect(lines).toHaveLength(800);
  for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  expect(new BounceSidecar(journal).refresh().size).toBe(800);
}, 180_000);
