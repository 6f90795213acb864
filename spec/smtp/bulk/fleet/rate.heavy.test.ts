/**
 * A campaign's rate holds across every worker: three worker processes at a
 * campaign rate of 50 messages a second never put more than 55 messages into
 * any one-second window, as the recording server's own clock sees them.
 */
import { type Fleet, type FleetItem, openFleet } from '../../../../smtp/bulk/fleet';
import { describeWithRedis, startRedis, type TestRedis } from '../../../support/redis';
import { busiestWindow, type Recorder, sleep, spawnWorker, startRecorder, type WorkerProcess } from './harness';

const ITEMS = 600;
const RATE = 50;
const TEMPLATE = { bytes: Buffer.from('From: news@x.test\r\nTo: {{recipient}}\r\nSubject: Paced\r\nX-Item-Id: {{id}}\r\n\r\nPaced.\r\n') };

jest.setTimeout(120_000);

describeWithRedis('fleet rate across workers', () => {
  let redis: TestRedis;
  let recorder: Recorder;
  let fleet: Fleet;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    recorder = await startRecorder();
    fleet = await openFleet(redis.url);
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.signal('SIGKILL');
    await fleet?.close();
    await recorder?.close();
    await redis?.stop();
  });

  test(`three workers at ${RATE}/s: no one-second window above ${Math.round(RATE * 1.1)}`, async () => {
    for (let i = 0; i < 3; i++) {
      workers.push(spawnWorker({ url: redis.url, port: recorder.port, workerId: `p${i}`, concurrency: 4, leaseSecs: 10, stalledSecs: 10 }));
      // The first transpiles the sources into a cache the others then read.
      if (i === 0) await workers[0].ready;
    }
    await Promise.all(workers.map((w) => w.ready));
    const items: FleetItem[] = Array.from({ length: ITEMS }, (_, i) => ({ id: `m${i}`, recipient: `r${i}@y.test`, values: {} }));
    await fleet.enqueueCampaign({ campaign: 'paced', sender: 'news@x.test', template: TEMPLATE, items, rate: RATE });
    while ((await fleet.status('paced')).sent < ITEMS) await sleep(200);
    const times = recorder.deliveries.map((d) => d.at);
    const busiest = busiestWindow(times, 1000);
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    const byWorker = new Map<string, number>();
    for (const d of recorder.deliveries) byWorker.set(d.worker, (byWorker.get(d.worker) ?? 0) + 1);
     
    console.log(`fleet rate: ${ITEMS} messages in ${span.toFixed(1)} s (${(ITEMS / span).toFixed(1)}/s), busiest second ${busiest}, by worker ${JSON.stringify(Object.fromEntries(byWorker))}`);
    expect(recorder.deliveries).toHaveLength(ITEMS);
    expect(busiest).toBeLessThanOrEqual(Math.round(RATE * 1.1));
    // The bucket paces, it does not starve: every worker takes part, and the run is not throttled far below the
    // rate. The bound is loose on purpose: how close a run comes to the rate depends on the machine's load (a
    // shared 2-core machine gave 33-50/s), which the fleet benchmark measures; this test holds the ceiling.
    expect(ITEMS / span).toBeGreaterThan(RATE * 0.3);
    expect(byWorker.size).toBe(3);
    const exits = await Promise.all(workers.map((w) => w.stop()));
    expect(exits.every((e) => e.code === 0)).toBe(true);
  });
});
