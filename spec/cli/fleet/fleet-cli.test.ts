/**
 * The fleet from the command line, with real processes: a redis-server that
 * persists every write (spec/support/redis.ts), the built `tclmail` as child
 * processes (enqueue, status, control, workers) and the capture server as
 * the relay. Every Redis, worker and server is started here on 127.0.0.1
 * and stopped by PID.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { openFleet } from '../../../smtp/bulk/fleet';
import { ITEM_STATES } from '../../../smtp/bulk/ledger';
import { captureWork } from '../../support/capture-work';
import { describeWithRedis, startRedis } from '../../support/redis';
import type { TestRedis } from '../../support/redis';
import { ensureBuilt, lines, PROGRAM, run } from '../helpers';

jest.setTimeout(180_000);

let redis: TestRedis;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  redis = await startRedis();
}, 180_000);

afterAll(async () => {
  await redis?.stop();
});

// Declared before the capture server's hooks, so that it runs first: workers stop before their relay closes.
afterEach(async () => {
  await Promise.all(workers.splice(0).map((child) => stopWorker(child)));
  for (const { campaign, args } of made.splice(0)) await run(['bulk', '--purge', campaign, ...args]);
});

const capture = captureWork('tclmail-fleet-cli-', { refuse: (address) => address.startsWith('nobody') });
const { file } = capture;

const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}},\nyour code is {{code}}.\n' });

function list(count: number, change: (i: number) => string = (i) => `code${i}`): string {
  const rows = ['id,email,name,code'];
  for (let i = 1; i <= count; i++) rows.push(`u${i},user${i}@example.net,Name ${i},${change(i)}`);
  return `${rows.join('\n')}\n`;
}

let campaigns = 0;
/** Campaigns of the running test with the URL of their Redis: purged after it, so that the next test's workers find none. */
const made: Array<{ campaign: string; args: string[] }> = [];
const campaignName = (args: string[] = ['--redis', '']): string => {
  const campaign = `c${process.pid}-${++campaigns}`;
  made.push({ campaign, args: args[1] === '' ? ['--redis', redis.url] : args });
  return campaign;
};

const relay = (): string[] => [...capture.servers(), '--no-starttls'];

function startWorker(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: ReturnType<typeof lines>; err: () => string } {
  const child = spawn(process.execPath, [PROGRAM, 'worker', ...args], { cwd: capture.work, env: { ...process.env, TCLMAIL_PASSWORD: undefined, TCLMAIL_REDIS_URL: undefined, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child, out: lines(child), err: () => stderr };
}

function stopWorker(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const force = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(force);
      resolve(code);
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

async function status(campaign: string): Promise<Record<string, number | string>> {
  const result = await run(['bulk', '--status', campaign, '--redis', redis.url, '--json']);
  expect(result).toMatchObject({ status: 0, stderr: '' });
  return JSON.parse(result.stdout) as Record<string, number | string>;
}

async function until(check: () => Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function enqueue(campaign: string, template: string, listPath: string, extra: string[] = []) {
  return run(['bulk', template, listPath, '--redis', redis.url, '--campaign', campaign, ...extra], { cwd: capture.work });
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describeWithRedis('tclmail bulk --redis and tclmail worker', () => {
  it('enqueues a campaign that two workers deliver exactly once, renders it from Redis, and stop with exit 0 on SIGTERM', async () => {
    const campaign = campaignName();
    const template = file('t.json', TEMPLATE);
    const people = file('people.csv', list(40));
    const first = await enqueue(campaign, template, people);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/40 item\(s\): 40 added, 0 already enqueued/);
    // Workers render from Redis: the enqueuing machine's files are gone.
    rmSync(template);

    const a = startWorker(['--redis', redis.url, ...relay(), '--concurrency', '3', '--log', 'json']);
    const b = startWorker(['--redis', redis.url, ...relay(), '--concurrency', '3', '--log', 'json']);
    await until(async () => (await status(campaign)).done === 40, 'the campaign to finish');

    const byRecipient = new Map<string, number>();
    for (const m of capture.seen) for (const to of m.to) byRecipient.set(to, (byRecipient.get(to) ?? 0) + 1);
    expect(capture.seen).toHaveLength(40);
    expect([...byRecipient.values()].every((n) => n === 1)).toBe(true);
    expect(byRecipient.size).toBe(40);
    const mail = await simpleParser(readFileSync(capture.seen.find((m) => m.to[0] === 'user7@example.net')!.path));
    expect(mail.subject).toBe('Hello Name 7');
    expect(mail.text).toBe('Dear Name 7,\nyour code is code7.\n');
    expect(mail.from?.value).toEqual([{ name: 'News', address: 'news@example.com' }]);

    expect(await Promise.all([stopWorker(a.child), stopWorker(b.child)])).toEqual([0, 0]);
    const events = [...a.out.seen, ...b.out.seen].map((l) => JSON.parse(l) as Record<string, unknown>);
    const outcomes = events.filter((e) => e.event === 'outcome');
    expect(outcomes).toHaveLength(40);
    for (const e of outcomes) {
      expect(Object.keys(e).slice(0, 7)).toEqual(['time', 'level', 'event', 'campaign', 'item', 'state', 'code']);
      expect(e).toMatchObject({ campaign, state: 'sent', code: 250 });
    }
    expect(events.filter((e) => e.event === 'stopped')).toHaveLength(2);
    // Each worker took part: the queue spreads batches.
    expect(new Set(outcomes.map((e) => e.item)).size).toBe(40);
  });

  it('adds nothing when the same list is enqueued again, refuses a changed list or an invalid row with exit 65, resends uncertain items when asked, and cancels', async () => {
    const campaign = campaignName();
    const template = file('t.json', TEMPLATE);
    const people = file('people.csv', list(12));
    expect((await enqueue(campaign, template, people)).status).toBe(0);
    const again = await enqueue(campaign, template, people);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/12 item\(s\): 0 added, 12 already enqueued; 0 job\(s\) queued/);

    const changed = file('changed.csv', list(12, (i) => (i === 5 || i === 9 ? 'other' : `code${i}`)));
    const refused = await enqueue(campaign, template, changed);
    expect(refused.status).toBe(65);
    expect(refused.stderr).toMatch(/2 items changed .*"u5", "u9"/);
    expect(await status(campaign)).toMatchObject({ total: 12, pending: 12 });

    // The rules of a local run: a row with two addresses refuses the list, nothing stored; --skip-invalid stores it as invalid.
    const bad = file('bad.csv', `${list(3)}u4,"a@example.net, b@example.net",Name 4,code4\n`);
    const other = campaignName();
    const invalid = await enqueue(other, template, bad);
    expect(invalid.status).toBe(65);
    expect(invalid.stderr).toMatch(/1 invalid row; nothing was stored:\n  row 4 \(line 5, id u4\): 2 addresses in one field/);
    expect((await run(['bulk', '--status', other, '--redis', redis.url])).status).toBe(64);
    expect((await enqueue(other, template, bad, ['--skip-invalid'])).status).toBe(0);
    expect(await status(other)).toMatchObject({ total: 4, pending: 3, invalid: 1, done: 1 });

    // Repeated ids are found by Redis, not by a table in the enqueuing process: the same row again is one item, an id
    // reused with other values is an invalid row; with --skip-invalid the first row keeps the id.
    const repeats = file('repeats.csv', `${list(3)}u2,user2@example.net,Name 2,code2\nu3,someone@example.net,Someone,code9\n`);
    const third = campaignName();
    const clash = await enqueue(third, template, repeats);
    expect(clash.status).toBe(65);
    expect(clash.stderr).toMatch(/1 invalid row; nothing was stored:\n  row 5 \(line 6, id u3\): repeats the id "u3" of an earlier row with other values/);
    const skipped = await enqueue(third, template, repeats, ['--skip-invalid']);
    expect(skipped.status).toBe(0);
    expect(skipped.stderr).toMatch(/3 item\(s\): 3 added, 0 already enqueued, 1 duplicate row\(s\), 1 row\(s\) left out \(they reuse an earlier row's id\)/);
    expect(await status(third)).toMatchObject({ total: 3, pending: 3 });

    // An item whose end of data went out with no reply is uncertain; --resend-uncertain names it and makes it pending again.
    const fleet = await openFleet(redis.url);
    try {
      const ledger = fleet.ledger(campaign, 'test-worker:1');
      expect((await ledger.claim(['u2']))[0].status).toBe('claimed');
      await ledger.markSending('u2');
      await ledger.markUncertain('u2', 'no reply after the end of data');
    } finally {
      await fleet.close();
    }
    expect(await status(campaign)).toMatchObject({ pending: 11, uncertain: 1, done: 1 });
    const resent = await run(['bulk', '--resend-uncertain', campaign, '--redis', redis.url]);
    expect(resent).toMatchObject({ status: 0, stdout: 'resend u2 user2@example.net\n' });
    expect(resent.stderr).toMatch(/1 uncertain item\(s\) queued again; they may arrive twice/);
    expect(await status(campaign)).toMatchObject({ pending: 12, uncertain: 0, done: 0 });

    const counts = await status(campaign);
    expect(Object.keys(counts).sort()).toEqual(['campaign', 'done', 'total', ...ITEM_STATES].sort());
    expect(counts).toMatchObject({ campaign, total: 12, pending: 12, sent: 0, done: 0 });

    expect((await run(['bulk', '--cancel', campaign, '--redis', redis.url])).stderr).toMatch(/cancelled; the 12 item\(s\) not sent yet will not be/);
    expect((await run(['bulk', '--status', campaign, '--redis', redis.url])).stdout).toMatch(new RegExp(`^campaign ${campaign} \\(cancelled\\): 0/12 done`));
  });

  it('pauses and resumes a campaign; status, the report and the metrics endpoint agree with the relay', async () => {
    const campaign = campaignName();
    const template = file('t.json', TEMPLATE);
    const rows = list(9).replace('user3@example.net', 'nobody3@example.net');
    expect((await enqueue(campaign, template, file('people.csv', rows))).status).toBe(0);
    const paused = await run(['bulk', '--pause', campaign, '--redis', redis.url]);
    expect(paused.status).toBe(0);

    const w = startWorker(['--redis', redis.url, ...relay(), '--metrics', '127.0.0.1:0', '--log', 'json']);
    const [, url] = await w.out.waitFor(/"event":"metrics".*"url":"([^"]+)"/, 60_000);
    const port = Number(new URL(url).port);
    await w.out.waitFor(/"event":"started"/, 60_000);
    await until(async () => (await get(port, '/healthz')).status === 200, 'the worker to be healthy');
    // Paused: nothing goes out while the worker runs.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(capture.seen).toHaveLength(0);
    expect(await status(campaign)).toMatchObject({ pending: 9, done: 0 });

    expect((await run(['bulk', '--resume', campaign, '--redis', redis.url])).status).toBe(0);
    await until(async () => (await status(campaign)).done === 9, 'the resumed campaign to finish');
    expect(capture.seen).toHaveLength(8);
    expect(await status(campaign)).toMatchObject({ total: 9, sent: 8, refused: 1, pending: 0, done: 9 });

    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.body)?.[1]);
    expect(value('tclmail_worker_sent_total')).toBe(8);
    expect(value('tclmail_worker_refused_total')).toBe(1);
    expect(value('tclmail_worker_failed_total')).toBe(0);
    expect(value('tclmail_worker_uncertain_total')).toBe(0);
    expect(value('tclmail_worker_in_flight')).toBe(0);
    expect(metrics.body).toMatch(/^# TYPE tclmail_worker_sent_total counter$/m);
    expect(metrics.body).toMatch(/^# HELP tclmail_worker_in_flight /m);

    // Following a finished campaign prints its counts once and exits as a local run would: 1, one item refused.
    const followed = await run(['bulk', '--status', campaign, '--redis', redis.url, '--follow', '--json']);
    expect(followed.status).toBe(1);
    expect(followed.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ campaign, total: 9, sent: 8, refused: 1, done: 9 })]);
    // The worker sets a finished campaign to expire after its retention (default 7 days).
    const admin = new Redis(redis.port, '127.0.0.1');
    try {
      await until(async () => (await admin.ttl(`tclmail:c:${campaign}:meta`)) > 0, 'the finished campaign to be set expiring', 30_000);
      expect(await admin.ttl(`tclmail:c:${campaign}:meta`)).toBeLessThanOrEqual(7 * 24 * 3600);
      expect(await admin.ttl(`tclmail:c:${campaign}:i:u1`)).toBeGreaterThan(6 * 24 * 3600);
    } finally {
      admin.disconnect();
    }

    const report = join(capture.work, 'report.csv');
    const shown = await run(['bulk', '--status', campaign, '--redis', redis.url, '--report', report]);
    expect(shown.stdout).toMatch(new RegExp(`^campaign ${campaign} \\(active\\): 9/9 done: .*sent 8.*refused 1`));
    const reportLines = readFileSync(report, 'utf8').trimEnd().split('\r\n');
    expect(reportLines[0]).toBe('id,recipient,status,code,diagnostic');
    expect(reportLines).toHaveLength(10);
    expect(reportLines[3]).toMatch(/^u3,nobody3@example\.net,refused,550,/);

    expect(await stopWorker(w.child)).toBe(0);
  });

  it('takes a URL with a password only from TCLMAIL_REDIS_URL or --redis-file, so ps never shows it', async () => {
    const secret = 'pw-7f3a9c';
    // A user with a password (Redis ACL), so the URL carries one.
    const admin = new Redis(redis.port, '127.0.0.1', { lazyConnect: true });
    await admin.connect();
    await admin.call('ACL', 'SETUSER', 'fleet-user', 'on', `>${secret}`, '~*', '&*', '+@all');
    await admin.quit();
    const url = `redis://fleet-user:${secret}@127.0.0.1:${redis.port}`;
    const inline = await run(['worker', '--redis', url, ...relay()]);
    expect(inline.status).toBe(64);
    expect(inline.stderr).toMatch(/a password in a flag shows in ps/);
    const wrong = await run(['bulk', '--status', 'x', '--json'], { env: { TCLMAIL_REDIS_URL: `redis://fleet-user:wrong@127.0.0.1:${redis.port}` } });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).not.toContain('wrong');

    const urlFile = file('redis-url', `${url}\n`);
    const campaign = campaignName(['--redis-file', urlFile]);
    const enq = await run(['bulk', file('t.json', TEMPLATE), file('people.csv', list(4)), '--campaign', campaign], { env: { TCLMAIL_REDIS_URL: url }, cwd: capture.work });
    expect(enq.status).toBe(0);
    const fromEnv = startWorker([...relay(), '--log', 'json'], { TCLMAIL_REDIS_URL: url });
    const fromFile = startWorker(['--redis-file', urlFile, ...relay(), '--log', 'json']);
    await fromEnv.out.waitFor(/"event":"started"/, 60_000);
    await fromFile.out.waitFor(/"event":"started"/, 60_000);
    for (const w of [fromEnv, fromFile]) {
      const argv = readFileSync(`/proc/${w.child.pid}/cmdline`, 'utf8');
      expect(argv).toContain('worker');
      expect(argv).not.toContain(secret);
      // The log names the Redis without its password.
      expect(w.out.seen.join('\n')).toContain(`redis://fleet-user:***@127.0.0.1:${redis.port}`);
      expect(w.out.seen.join('\n')).not.toContain(secret);
    }
    const counts = async (): Promise<Record<string, number>> =>
      JSON.parse((await run(['bulk', '--status', campaign, '--json', '--redis-file', urlFile])).stdout) as Record<string, number>;
    await until(async () => (await counts()).sent === 4, 'the campaign to be sent');
    expect(capture.seen).toHaveLength(4);
    expect(await Promise.all([stopWorker(fromEnv.child), stopWorker(fromFile.child)])).toEqual([0, 0]);
  });

  it('refuses a Redis that does not persist every write unless --allow-unsafe-redis, and purges a campaign', async () => {
    const unsafe = await startRedis({ extraArgs: ['--appendfsync', 'everysec'] });
    try {
      const refused = await run(['worker', '--redis', unsafe.url, ...relay()]);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/appendfsync everysec.*--allow-unsafe-redis/);

      const campaign = campaignName(['--redis', unsafe.url]);
      made.pop();
      expect((await run(['bulk', file('t.json', TEMPLATE), file('p.csv', list(3)), '--redis', unsafe.url, '--campaign', campaign], { cwd: capture.work })).status).toBe(0);
      const w = startWorker(['--redis', unsafe.url, ...relay(), '--allow-unsafe-redis']);
      await until(async () => capture.seen.length === 3, 'the unsafe worker to send');
      expect(await stopWorker(w.child)).toBe(0);
      expect(w.err()).toMatch(/unsafe-redis/);

      const purged = await run(['bulk', '--purge', campaign, '--redis', unsafe.url]);
      expect(purged.status).toBe(0);
      const gone = await run(['bulk', '--status', campaign, '--redis', unsafe.url]);
      expect(gone.status).toBe(64);
      expect(gone.stderr).toMatch(new RegExp(`no campaign ${campaign}`));
    } finally {
      await unsafe.stop();
    }
  });
});
