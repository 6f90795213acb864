/**
 * The pieces of the worker's operations that need no Redis: where the Redis
 * URL comes from (and that a password is never taken from a flag), the
 * metrics and health endpoint over real HTTP on loopback, and the JSON log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { processIo, UsageError } from '../../../cli/args';
import type { Io } from '../../../cli/args';
import { FleetLog } from '../../../cli/fleet-log';
import { metricsAddress, RateWindow, serveMetrics } from '../../../cli/fleet-metrics';
import type { MetricsSource } from '../../../cli/fleet-metrics';
import { redisTarget } from '../../../cli/redis-url';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-fleet-ops-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const io = (env: NodeJS.ProcessEnv = {}): Io => ({ ...processIo(), env });

describe('the Redis URL', () => {
  it('is taken from --redis without a password, else --redis-file, else TCLMAIL_REDIS_URL', () => {
    expect(redisTarget({ redis: 'redis://127.0.0.1:6400/2' }, io())).toEqual({ url: 'redis://127.0.0.1:6400/2', shown: 'redis://127.0.0.1:6400/2' });
    const file = join(work, 'redis-url');
    writeFileSync(file, 'rediss://worker:s3cret@redis.example.net:6380\nignored\n');
    expect(redisTarget({ 'redis-file': file }, io())).toEqual({ url: 'rediss://worker:s3cret@redis.example.net:6380', shown: 'rediss://worker:***@redis.example.net:6380' });
    expect(redisTarget({}, io({ TCLMAIL_REDIS_URL: 'redis://:pw@127.0.0.1:7000' })).shown).toBe('redis://:***@127.0.0.1:7000');
  });

  it('refuses a password in --redis, a foreign scheme, a path that is no database, and no Redis at all', () => {
    expect(() => redisTarget({ redis: 'redis://:hunter2@127.0.0.1:6379' }, io())).toThrow(/a password in a flag shows in ps.*--redis-file FILE or in TCLMAIL_REDIS_URL/);
    expect(() => redisTarget({ redis: 'http://127.0.0.1:6379' }, io())).toThrow(/must be redis:\/\/ or rediss:\/\//);
    expect(() => redisTarget({ redis: 'redis://127.0.0.1/queue' }, io())).toThrow(/database number/);
    expect(() => redisTarget({ redis: 'redis://a', 'redis-file': 'f' }, io())).toThrow(/not both/);
    expect(() => redisTarget({}, io())).toThrow(UsageError);
    expect(() => redisTarget({ 'redis-file': join(work, 'missing') }, io())).toThrow(/no such file/);
  });
});

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the metrics endpoint', () => {
  it('parses [HOST:]PORT with loopback as the default host', () => {
    expect(metricsAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(metricsAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(metricsAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => metricsAddress('localhost:99999')).toThrow(/\[HOST:\]PORT/);
    expect(() => metricsAddress('a b:1')).toThrow(UsageError);
  });

  it('serves counters and gauges with HELP and TYPE lines, and /healthz follows the worker', async () => {
    let healthy = true;
    const source: MetricsSource = {
      counters: () => ({ sent: 7, refused: 1, failed: 2, uncertain: 0, deferred: 3, suppressed: 5 }),
      inFlight: () => 4,
      rate: () => 1.5,
      healthy: () => healthy,
    };
    const server = await serveMetrics({ host: '127.0.0.1', port: 0 }, source);
    try {
      const metrics = await get(server.port, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
      const samples = new Map<string, number>();
      const types = new Map<string, string>();
      for (const text of metrics.body.trimEnd().split('\n')) {
        const type = /^# TYPE (\S+) (counter|gauge)$/.exec(text);
        if (type) types.set(type[1], type[2]);
        else if (!text.startsWith('# HELP ')) {
          const [name, value] = text.split(' ');
          samples.set(name, Number(value));
        }
      }
      expect(Object.fromEntries(samples)).toEqual({
        tclmail_worker_sent_total: 7,
        tclmail_worker_refused_total: 1,
        tclmail_worker_failed_total: 2,
        tclmail_worker_uncertain_total: 0,
        tclmail_worker_deferred_total: 3,
        tclmail_worker_suppressed_total: 5,
        tclmail_worker_in_flight: 4,
        tclmail_worker_rate: 1.5,
        tclmail_worker_up: 1,
      });
      for (const name of samples.keys()) expect(types.get(name)).toBe(name.endsWith('_total') ? 'counter' : 'gauge');
      expect((await get(server.port, '/healthz')).status).toBe(200);
      healthy = false;
      expect(await get(server.port, '/healthz')).toMatchObject({ status: 503, body: 'unavailable\n' });
      expect((await get(server.port, '/other')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('counts a rate over a sliding window', () => {
    let now = 1_000_000;
    const window = new RateWindow(10, () => now);
    window.add(20);
    now += 5_000;
    window.add(10);
    expect(window.perSecond()).toBe(3);
    now += 6_000;
    expect(window.perSecond()).toBe(1);
  });
});

describe('the JSON log', () => {
  it('writes one object per line with time, level, event, campaign, item, state and code', () => {
    const stdout = new PassThrough();
    const log = new FleetLog('json', { stdout, stderr: new PassThrough() }, () => new Date('2026-12-07T09:00:00Z'));
    log.info('outcome', { campaign: 'monday', item: 'u1', state: 'sent', code: 250 });
    log.warn('redis-down', { detail: 'ECONNREFUSED' });
    const lines = String(stdout.read()).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: '2026-12-07T09:00:00.000Z', level: 'info', event: 'outcome', campaign: 'monday', item: 'u1', state: 'sent', code: 250 },
      { time: '2026-12-07T09:00:00.000Z', level: 'warn', event: 'redis-down', campaign: null, item: null, state: null, code: null, detail: 'ECONNREFUSED' },
    ]);
  });
});
