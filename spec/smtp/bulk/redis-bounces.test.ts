/**
 * Bounces and suppression on the fleet's Redis ledger, against a real
 * redis-server and the capture server on 127.0.0.1: a worker skips an address
 * in the suppression set (recorded suppressed, never sent); the bounce script
 * moves only a sent item, keeps a hard bounce, clears a soft one on a later
 * success, is idempotent; `tclmail bounces --redis --campaign --suppress`
 * records a bounce and fills the suppression set.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startCaptureServer } from '../../../cli/serve';
import type { CaptureServer, CapturedMessage } from '../../../cli/serve';
import { openFleet, startWorker } from '../../../smtp/bulk/fleet';
import type { Fleet, FleetWorker } from '../../../smtp/bulk/fleet';
import { addRedisSuppression, isRedisSuppressed, recordRedisBounce, redisBounceOf } from '../../../smtp/bulk/redis-bounces';
import { ensureBuilt, run } from '../../cli/helpers';
import { describeWithRedis, startRedis } from '../../support/redis';
import type { TestRedis } from '../../support/redis';

jest.setTimeout(90_000);

const TEMPLATE = { bytes: Buffer.from('From: news@x.test\r\nTo: {{recipient}}\r\nSubject: Hello {{name}}\r\n\r\nDear {{name}}.\r\n') };

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const failed = (status: string, hard: boolean) => ({ action: 'failed', status, reason: hard ? 'userunknown' : 'mailboxfull', hard, diagnostic: `550 ${status}` });
const delivered = { action: 'delivered', status: '2.0.0', reason: '', hard: false, diagnostic: '' };

describeWithRedis('bounces and suppression in Redis', () => {
  let redis: TestRedis;
  let client: Redis;
  let fleet: Fleet;
  let capture: CaptureServer;
  let worker: FleetWorker | undefined;
  let work: string;
  const seen: CapturedMessage[] = [];

  beforeAll(async () => {
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), 'tclmail-redis-bounces-'));
    redis = await startRedis();
    client = new Redis(redis.url);
    fleet = await openFleet(redis.url);
    capture = await startCaptureServer({ dir: join(work, 'mail'), onMessage: (m) => seen.push(m) });
    await addRedisSuppression(client, ['U2@y.test']);
    await fleet.enqueueCampaign({
      campaign: 'c',
      sender: 'news@x.test',
      template: TEMPLATE,
      items: [0, 1, 2].map((i) => ({ id: `a${i}`, recipient: `u${i}@y.test`, values: { name: `User ${i}` } })),
    });
    worker = await startWorker({ connection: redis.url, servers: ['127.0.0.1'], ports: [capture.port], usetls: false, concurrency: 2, leaseSecs: 3, pollMs: 100 });
    await until(async () => (await fleet.status('c')).done === 3, 30_000);
    await worker.close();
    worker = undefined;
  });

  afterAll(async () => {
    await worker?.close();
    await fleet?.close();
    client?.disconnect();
    await capture?.close();
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a worker records an address in the suppression set as suppressed and never sends it', async () => {
    expect(seen.map((m) => m.to.join()).sort()).toEqual(['u0@y.test', 'u1@y.test']);
    expect(await fleet.item('c', 'a2')).toMatchObject({ state: 'suppressed' });
    expect(await fleet.status('c')).toMatchObject({ sent: 2, suppressed: 1, failed: 0, done: 3 });
    expect(await isRedisSuppressed(client, 'u2@Y.TEST')).toBe(true);
  });

  test('only a sent item becomes bounced; a hard bounce is kept, a soft one is cleared by a success; repeats change nothing', async () => {
    expect(await recordRedisBounce(client, 'c', 'a0', failed('5.1.1', true))).toBe('bounced');
    expect(await recordRedisBounce(client, 'c', 'a0', failed('5.1.1', true))).toBe('kept');
    expect(await recordRedisBounce(client, 'c', 'a0', delivered)).toBe('kept');
    expect(await redisBounceOf(client, 'c', 'a0')).toMatchObject({ status: '5.1.1', hard: true, reason: 'userunknown' });
    expect(await recordRedisBounce(client, 'c', 'a1', { ...failed('4.2.2', false), action: 'delayed' })).toBe('unchanged');
    expect(await recordRedisBounce(client, 'c', 'a1', failed('5.2.2', false))).toBe('bounced');
    expect(await fleet.status('c')).toMatchObject({ sent: 0, bounced: 2 });
    expect(await recordRedisBounce(client, 'c', 'a1', delivered)).toBe('cleared');
    expect(await redisBounceOf(client, 'c', 'a1')).toBeUndefined();
    expect(await recordRedisBounce(client, 'c', 'a2', failed('5.1.1', true))).toBe('not-sent');
    expect(await recordRedisBounce(client, 'c', 'nope', failed('5.1.1', true))).toBe('unknown');
    expect(await fleet.status('c')).toMatchObject({ sent: 1, bounced: 1, suppressed: 1, done: 3 });
    expect(await fleet.item('c', 'a0')).toMatchObject({ state: 'bounced' });
  });

  test('tclmail bounces --redis --campaign --suppress records the bounce by VERP and fills both suppression lists', async () => {
    const eml = join(work, 'b.eml');
    writeFileSync(
      eml,
      [
        'From: MAILER-DAEMON@mx.y.test',
        'To: bounces+a1@x.test',
        'Subject: Undelivered',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        '',
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; mx.y.test',
        '',
        'Final-Recipient: rfc822; u1@y.test',
        'Action: failed',
        'Status: 5.1.1',
        'Diagnostic-Code: smtp; 550 5.1.1 no such user',
        '',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const suppress = join(work, 'suppress.csv');
    const result = await run(['bounces', '--json', '--verp', 'bounces+{id}@x.test', '--campaign', 'c', '--suppress', suppress, eml], { env: { TCLMAIL_REDIS_URL: redis.url } });
    expect(result.stderr).toMatch(/1 address\(es\) added/);
    expect(JSON.parse(result.stdout)).toMatchObject({ item: 'a1', status: '5.1.1', hard: true, recorded: 'bounced' });
    expect(await fleet.item('c', 'a1')).toMatchObject({ state: 'bounced' });
    expect(await isRedisSuppressed(client, 'u1@y.test')).toBe(true);
    const missing = await run(['bounces', '--redis', redis.url, eml]);
    expect(missing.status).toBe(64);
    expect(missing.stderr).toMatch(/--campaign NAME/);
  });
});
