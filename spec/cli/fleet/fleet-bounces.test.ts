/**
 * Bounces and unsubscribes in fleet mode, with real processes: a
 * redis-server (spec/support/redis.ts), the built `tclmail` enqueuing and
 * running a worker, and an SMTP server (the npm smtp-server, with DSN
 * offered) as the relay, all on 127.0.0.1 and stopped by PID.
 * `--verp` and the unsubscribe URL are stored with the campaign; the secret
 * stays with the worker; `--suppress` at enqueue time stores listed items
 * `suppressed`, and the Redis suppression set is checked at send time.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { SMTPServer } from 'smtp-server';
import { addRedisSuppression } from '../../../smtp/bulk/redis-bounces';
import { verifyUnsubscribeToken } from '../../../smtp/bulk/unsubscribe';
import { describeWithRedis, startRedis } from '../../support/redis';
import type { TestRedis } from '../../support/redis';
import { ensureBuilt, lines, PROGRAM, run } from '../helpers';

jest.setTimeout(180_000);

interface Received {
  from: string;
  to: string[];
  envid: string | undefined;
  body: string;
}

let redis: TestRedis;
let work: string;
let relay: SMTPServer;
let relayPort: number;
const received: Received[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  redis = await startRedis();
  relay = new SMTPServer({
    hideDSN: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelope = session.envelope;
        received.push({
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
          to: envelope.rcptTo.map((r) => r.address),
          envid: envelope.dsn?.envid ?? undefined,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayPort = (relay.server.address() as { port: number }).port;
  work = mkdtempSync(join(tmpdir(), 'tclmail-fleet-bounces-'));
}, 180_000);

afterEach(async () => {
  // A failed test's worker must not send the next test's campaign.
  await Promise.all(children.splice(0).map((child) => stopChild(child)));
});

afterAll(async () => {
  await new Promise<void>((resolve) => relay?.close(() => resolve()));
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const file = (name: string, text: string): string => {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
};

function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const force = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(force);
      resolve(code);
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function status(campaign: string): Promise<Record<string, number>> {
  const result = await run(['bulk', '--status', campaign, '--redis', redis.url, '--json']);
  return JSON.parse(result.stdout) as Record<string, number>;
}

async function until(check: () => Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const SECRET = 'a-secret-of-thirty-two-bytes-xyz';
const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}}.\n' });
const LIST = 'id,email,name\nu1,user1@example.net,One\nu2,user2@example.net,Two\nu3,user3@example.net,Three\nu4,user4@example.net,Four\n';

describeWithRedis('tclmail bulk --redis with --verp, --suppress and --unsubscribe', () => {
  it('workers send from the VERP address with ENVID = id, add verifiable unsubscribe fields, and skip suppressed items (enqueue list and Redis set)', async () => {
    const campaign = `b${process.pid}`;
    const template = file('t.json', TEMPLATE);
    const list = file('people.csv', LIST);
    const suppress = file('suppress.csv', 'address,reason,date\nUSER2@example.net,userunknown,2026-12-01\n');
    const secretFile = file('secret', `${SECRET}\n`);

    // A bad --verp, or a secret file without its URL, is refused before anything is stored.
    const bad = await run(['bulk', template, list, '--redis', redis.url, '--campaign', campaign, '--verp', 'bounces@example.org'], { cwd: work });
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/--verp: .*\{id\}/);
    const lone = await run(['bulk', template, list, '--redis', redis.url, '--campaign', campaign, '--unsubscribe-secret-file', secretFile], { cwd: work });
    expect(lone.status).toBe(64);
    expect(lone.stderr).toMatch(/--unsubscribe URL and --unsubscribe-secret-file FILE go together/);

    const enqueued = await run(
      ['bulk', template, list, '--redis', redis.url, '--campaign', campaign, '--verp', 'bounces+{id}@example.org', '--suppress', suppress, '--unsubscribe', 'https://example.org/u'],
      { cwd: work },
    );
    expect(enqueued.stderr).toMatch(/4 item\(s\): 4 added, 0 already enqueued, 1 suppressed/);
    expect(enqueued.status).toBe(0);
    expect(await status(campaign)).toMatchObject({ total: 4, pending: 3, suppressed: 1 });

    // The campaign carries the VERP template and the URL, never the secret.
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('*');
      for (const key of keys) {
        const type = await client.type(key);
        const dump = type === 'hash' ? JSON.stringify(await client.hgetall(key)) : type === 'string' ? await client.get(key) : '';
        expect(dump ?? '').not.toContain(SECRET);
      }
      // user3 lands on the fleet's suppression set after the enqueue: the worker checks it at send time.
      await addRedisSuppression(client, ['user3@example.net']);
    } finally {
      client.disconnect();
    }

    const worker = spawn(
      process.execPath,
      [PROGRAM, 'worker', '--redis', redis.url, '--servers', '127.0.0.1', '--ports', String(relayPort), '--no-starttls', '--log', 'json', '--metrics', '127.0.0.1:0', '--unsubscribe-secret-file', secretFile],
      { cwd: work, env: { ...process.env, TCLMAIL_PASSWORD: undefined, TCLMAIL_REDIS_URL: undefined }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(worker);
    const out = lines(worker);
    await out.waitFor(/"event":"metrics"/, 60_000);
    const metricsUrl = JSON.parse(out.seen.find((l) => l.includes('"event":"metrics"'))!) as { url: string };
    await until(async () => (await status(campaign)).done === 4, 'the campaign to finish');
    expect(await status(campaign)).toMatchObject({ total: 4, sent: 2, suppressed: 2, done: 4 });

    const metrics = await get(metricsUrl.url);
    expect(metrics).toMatch(/^tclmail_worker_suppressed_total 1$/m);
    expect(metrics).toMatch(/^tclmail_worker_sent_total 2$/m);
    expect(await stopChild(worker)).toBe(0);
    const events = out.seen.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === 'suppressed')).toEqual([expect.objectContaining({ campaign, item: 'u3', state: 'suppressed' })]);

    const mine = received.filter((m) => m.from.startsWith('bounces+')).sort((a, b) => a.to[0].localeCompare(b.to[0]));
    expect(mine.map((m) => [m.from, m.to, m.envid])).toEqual([
      ['bounces+u1@example.org', ['user1@example.net'], 'u1'],
      ['bounces+u4@example.org', ['user4@example.net'], 'u4'],
    ]);
    for (const [i, m] of mine.entries()) {
      const url = /^List-Unsubscribe: <([^>]+)>\r?$/m.exec(m.body)![1];
      expect(url.startsWith('https://example.org/u?t=')).toBe(true);
      expect(m.body).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
      const token = new URL(url).searchParams.get('t')!;
      expect(verifyUnsubscribeToken(SECRET, token)).toEqual(i === 0 ? { id: 'u1', address: 'user1@example.net' } : { id: 'u4', address: 'user4@example.net' });
      expect(verifyUnsubscribeToken('another-secret-of-32-bytes-xxxxx', token)).toBeNull();
    }
    await run(['bulk', '--purge', campaign, '--redis', redis.url]);
  });

  it('a worker without the unsubscribe secret sends nothing of such a campaign and says which flag it needs; one with it then sends', async () => {
    const campaign = `s${process.pid}`;
    const template = file('t2.json', TEMPLATE);
    const list = file('one.csv', 'id,email,name\nw1,wait1@example.net,Wait\n');
    const secretFile = file('secret2', SECRET);
    expect((await run(['bulk', template, list, '--redis', redis.url, '--campaign', campaign, '--unsubscribe', 'https://example.org/u'], { cwd: work })).status).toBe(0);
    const args = [PROGRAM, 'worker', '--redis', redis.url, '--servers', '127.0.0.1', '--ports', String(relayPort), '--no-starttls', '--log', 'json', '--retry-delay', '0.2'];
    const env = { ...process.env, TCLMAIL_PASSWORD: undefined, TCLMAIL_REDIS_URL: undefined };
    const without = spawn(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(without);
    const said = await lines(without).waitFor(/"event":"error".*unsubscribe-secret-file FILE.*/, 60_000);
    expect(said[0]).toMatch(new RegExp(`campaign ${campaign} adds one-click unsubscribe fields`));
    expect(await stopChild(without)).toBe(0);
    expect(received.some((m) => m.to.includes('wait1@example.net'))).toBe(false);
    expect(await status(campaign)).toMatchObject({ total: 1, sent: 0, failed: 0 });

    const withSecret = spawn(process.execPath, [...args, '--unsubscribe-secret-file', secretFile], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(withSecret);
    await until(async () => (await status(campaign)).sent === 1, 'the item to be sent by the worker with the secret');
    expect(await stopChild(withSecret)).toBe(0);
    const sent = received.filter((m) => m.to.includes('wait1@example.net'));
    expect(sent).toHaveLength(1);
    expect(sent[0].from).toBe('news@example.com');
    expect(sent[0].envid).toBeUndefined();
    await run(['bulk', '--purge', campaign, '--redis', redis.url]);
  });
});
