/**
 * Fleet workers in this process against a real redis-server and a recording
 * smtp-server on 127.0.0.1: every item delivered once, 4xx retried after its
 * back-off (on any worker), 5xx refused, a graceful stop that hands back what
 * it did not start, pause and resume, and items enqueued one at a time.
 */
import { SMTPServer } from 'smtp-server';
import { DurabilityError, type Fleet, type FleetItem, type FleetWorker, openFleet, startWorker, type WorkerOptions } from '../../../../smtp/bulk/fleet';
import { describeWithRedis, startRedis, type TestRedis } from '../../../support/redis';

const TEMPLATE = { bytes: Buffer.from('From: news@x.test\r\nTo: {{recipient}}\r\nSubject: Hello {{name}}\r\nX-Item-Id: {{id}}\r\n\r\nDear {{name}}.\r\n') };

interface Held {
  id: string;
  rcpt: string[];
  at: number;
}

function rows(prefix: string, count: number, local: (i: number) => string = (i) => `u${i}`): FleetItem[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, recipient: `${local(i)}@y.test`, values: { name: `User ${i}` } }));
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describeWithRedis('fleet workers', () => {
  let redis: TestRedis;
  let fleet: Fleet;
  let server: SMTPServer;
  let port: number;
  const held: Held[] = [];
  const softSeen = new Set<string>();
  let delayMs = 0;
  const workers: FleetWorker[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    fleet = await openFleet(redis.url);
    server = new SMTPServer({
      logger: false,
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      closeTimeout: 50,
      onRcptTo(address, session, callback) {
        const local = address.address.split('@')[0];
        if (local.startsWith('hard')) return callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        if (local.startsWith('soft') && !softSeen.has(local)) {
          softSeen.add(local);
          return callback(Object.assign(new Error('greylisted, try later'), { responseCode: 451 }));
        }
        callback();
      },
      onData(stream, session, callback) {
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        stream.on('end', () => {
          const id = /^X-Item-Id: (.*)$/m.exec(text)?.[1].trim() ?? '?';
          held.push({ id, rcpt: session.envelope.rcptTo.map((r) => r.address), at: Date.now() });
          setTimeout(callback, delayMs);
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const worker of workers) await worker.close();
    await fleet?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await redis?.stop();
  });

  function options(extra: Partial<WorkerOptions> = {}): WorkerOptions {
    return { connection: redis.url, servers: ['127.0.0.1'], ports: [port], usetls: false, concurrency: 3, retryDelay: 0.2, maxRetryDelay: 0.5, leaseSecs: 3, pollMs: 100, ...extra };
  }

  async function start(extra: Partial<WorkerOptions> = {}): Promise<FleetWorker> {
    const worker = await startWorker(options(extra));
    workers.push(worker);
    return worker;
  }

  function heldOf(prefix: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const h of held) if (h.id.startsWith(prefix)) counts.set(h.id, (counts.get(h.id) ?? 0) + 1);
    return counts;
  }

  test('two workers send every item once; 4xx comes back after its back-off, 5xx is refused', async () => {
    const list = [...rows('a', 200), ...rows('s', 10, (i) => `soft${i}`), ...rows('h', 5, (i) => `hard${i}`)];
    await fleet.enqueueCampaign({ campaign: 'first', sender: 'news@x.test', template: TEMPLATE, items: list });
    const events: string[] = [];
    const w1 = await start({ onEvent: (e) => events.push(e.type) });
    const w2 = await start();
    await until(async () => (await fleet.status('first')).done === list.length, 30000);
    const status = await fleet.status('first');
    expect(status).toMatchObject({ total: 215, sent: 210, refused: 5, failed: 0, uncertain: 0, pending: 0, sending: 0, deferred: 0 });
    const got = heldOf('a');
    for (const [id, n] of heldOf('s')) got.set(id, n);
    expect(got.size).toBe(210);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    // One recipient per message: the row's own.
    for (const h of held.filter((x) => x.id.startsWith('a'))) expect(h.rcpt).toEqual([`u${h.id.slice(1)}@y.test`]);
    expect(await fleet.item('first', 's3')).toMatchObject({ state: 'sent', attempts: 2 });
    expect(await fleet.item('first', 'h1')).toMatchObject({ state: 'refused', code: 550 });
    expect(events.filter((e) => e === 'outcome').length + w2.stats().sent + w2.stats().refused).toBeGreaterThanOrEqual(215);
    expect(w1.stats().sent + w2.stats().sent).toBe(210);
    expect(w1.stats().inFlight + w2.stats().inFlight).toBe(0);
    // Enqueued again: nothing added, nothing sent again.
    const again = await fleet.enqueueCampaign({ campaign: 'first', sender: 'news@x.test', template: TEMPLATE, items: list });
    expect(again).toMatchObject({ added: 0, jobs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heldOf('a').size).toBe(200);
    expect(held.filter((h) => h.id.startsWith('a')).length).toBe(200);
  });

  test('a graceful stop finishes what is in flight and hands back the rest; another worker sends it', async () => {
    for (const w of workers.splice(0)) await w.close();
    delayMs = 50;
    await fleet.enqueueCampaign({ campaign: 'drain', sender: 'news@x.test', template: TEMPLATE, items: rows('d', 150) });
    const first = await start();
    await until(async () => (await fleet.status('drain')).sent >= 20, 20000);
    await first.close();
    workers.splice(workers.indexOf(first), 1);
    const stopped = await fleet.status('drain');
    expect(stopped).toMatchObject({ sending: 0, uncertain: 0 });
    expect(stopped.sent).toBeLessThan(150);
    const second = await start();
    await until(async () => (await fleet.status('drain')).sent === 150, 30000);
    const got = heldOf('d');
    expect(got.size).toBe(150);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(second.stats().sent).toBe(150 - stopped.sent);
    delayMs = 0;
  });

  test('a paused campaign sends nothing until resumed', async () => {
    await fleet.createCampaign({ campaign: 'held', sender: 'news@x.test', template: TEMPLATE });
    await fleet.pause('held');
    // Workers read a campaign's status at most a second late.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await fleet.enqueueCampaign({ campaign: 'held', sender: 'news@x.test', template: TEMPLATE, items: rows('p', 40) });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(heldOf('p').size).toBe(0);
    expect(await fleet.status('held')).toMatchObject({ pending: 40 });
    await fleet.resume('held');
    await until(async () => (await fleet.status('held')).sent === 40, 20000);
    expect(heldOf('p').size).toBe(40);
  });

  test('items enqueued one at a time, as an application produces them', async () => {
    await fleet.createCampaign({ campaign: 'live', sender: 'news@x.test', template: TEMPLATE });
    const results = await Promise.all(rows('l', 120).map((item) => fleet.enqueue('live', item)));
    expect(results.every((r) => r.status === 'new')).toBe(true);
    await until(async () => (await fleet.status('live')).sent === 120, 20000);
    const again = await Promise.all(rows('l', 3).map((item) => fleet.enqueue('live', item)));
    expect(again.map((r) => r.status)).toEqual(['known', 'known', 'known']);
    await expect(fleet.enqueue('live', { id: 'l0', recipient: 'other@y.test', values: { name: 'x' } })).rejects.toMatchObject({ code: 'ECHANGED' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heldOf('l').size).toBe(120);
    expect([...heldOf('l').values()].every((n) => n === 1)).toBe(true);
  });

  test('a worker carries on after Redis is killed and restarted on the same data', async () => {
    if (workers.length === 0) await start();
    await fleet.enqueueCampaign({ campaign: 'outage', sender: 'news@x.test', template: TEMPLATE, items: rows('o', 300) });
    await until(async () => heldOf('o').size >= 100, 20000);
    await redis.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await redis.restart();
    await until(async () => (await fleet.status('outage')).done === 300, 40000);
    const status = await fleet.status('outage');
    // Every acknowledged write survived (appendfsync always): nothing was lost, nothing doubled, nothing left uncertain.
    expect(status).toMatchObject({ sent: 300, uncertain: 0, failed: 0 });
    expect(heldOf('o').size).toBe(300);
    expect([...heldOf('o').values()].every((n) => n === 1)).toBe(true);
  });

  test('a worker stops when asked although Redis is gone and does not come back', async () => {
    // A Redis of its own, killed for good: BullMQ's blocking client is left reconnecting, which its close waits
    // for without end (bullmq#4656); the worker bounds that wait once its own work is over.
    const lost = await startRedis();
    const own = await openFleet(lost.url);
    const events: string[] = [];
    try {
      const worker = await startWorker({ ...options(), connection: lost.url, onEvent: (e) => events.push(e.type === 'error' ? `error: ${e.error.message}` : e.type) });
      await own.enqueueCampaign({ campaign: 'gone', sender: 'news@x.test', template: TEMPLATE, items: rows('g', 5) });
      await until(async () => (await own.status('gone')).done === 5, 20000);
      await own.close();
      await lost.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const outcome = await Promise.race([worker.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still closing after 40 s'), 40_000))]);
      expect(outcome).toBe('closed');
      expect(worker.stats()).toMatchObject({ sent: 5, inFlight: 0 });
    } finally {
      await lost.stop();
    }
  }, 60_000);

  test('a worker refuses a Redis that does not persist every write', async () => {
    const loose = await startRedis({ extraArgs: ['--appendonly', 'no'] });
    try {
      await expect(startWorker({ ...options(), connection: loose.url })).rejects.toBeInstanceOf(DurabilityError);
      const unsafe = await startWorker({ ...options(), connection: loose.url, allowUnsafeRedis: true });
      expect(unsafe.durability).toMatchObject({ durable: false, appendonly: false });
      await unsafe.close();
    } finally {
      await loose.stop();
    }
  });
});
