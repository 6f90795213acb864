/**
 * The worker's operations endpoint (`--metrics [HOST:]PORT`, loopback unless
 * a host is given): `/metrics` in the Prometheus text format (version 0.0.4)
 * and `/healthz`, 200 while the worker runs and reaches Redis, 503 otherwise,
 * for a supervisor or a load balancer. Nothing else is served.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerStats } from '../smtp/bulk/fleet';
import { UsageError } from './args';

/** Where to listen, from `--metrics`: `PORT`, `HOST:PORT` or `[IPv6]:PORT`. */
export function metricsAddress(text: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--metrics expects [HOST:]PORT (e.g. 9464 or 0.0.0.0:9464), not ${JSON.stringify(text)}`);
  const host = match[1] === undefined ? '127.0.0.1' : match[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

/** What the worker has done since it started, in the worker's own words: counters only grow. */
export type WorkerCounters = Pick<WorkerStats, 'sent' | 'refused' | 'failed' | 'uncertain' | 'deferred' | 'suppressed'>;

/** The figures the endpoint reads at each scrape. */
export interface MetricsSource {
  counters(): WorkerCounters;
  /** Messages in flight on this worker now. */
  inFlight(): number;
  /** Outcomes per second over the last window. */
  rate(): number;
  /** True while the worker runs and its Redis answers. */
  healthy(): boolean;
}

const COUNTERS: Array<[keyof WorkerCounters, string]> = [
  ['sent', 'Messages the relay accepted.'],
  ['refused', 'Messages the relay refused for good (5xx).'],
  ['failed', 'Messages not sent: retries used up, no relay, TLS or AUTH failure.'],
  ['uncertain', 'Messages whose end of data went out with no final reply: they may have been delivered.'],
  ['deferred', 'Temporary failures (4xx) put back to be tried again.'],
  ['suppressed', 'Items not sent because their address is on the suppression list.'],
];

/** The exposition text of one scrape. */
export function metricsText(source: MetricsSource): string {
  const counters = source.counters();
  const lines: string[] = [];
  for (const [name, help] of COUNTERS) {
    lines.push(`# HELP tclmail_worker_${name}_total ${help}`, `# TYPE tclmail_worker_${name}_total counter`, `tclmail_worker_${name}_total ${counters[name]}`);
  }
  lines.push('# HELP tclmail_worker_in_flight Messages being sent by this worker now.', '# TYPE tclmail_worker_in_flight gauge', `tclmail_worker_in_flight ${source.inFlight()}`);
  lines.push('# HELP tclmail_worker_rate Outcomes per second over the last 10 seconds.', '# TYPE tclmail_worker_rate gauge', `tclmail_worker_rate ${Number(source.rate().toFixed(3))}`);
  lines.push('# HELP tclmail_worker_up 1 while the worker runs and reaches Redis.', '# TYPE tclmail_worker_up gauge', `tclmail_worker_up ${source.healthy() ? 1 : 0}`);
  return `${lines.join('\n')}\n`;
}

/** Outcomes per second over a sliding window, counted per second. */
export class RateWindow {
  private readonly buckets = new Map<number, number>();

  constructor(
    private readonly seconds = 10,
    private readonly now: () => number = Date.now,
  ) {}

  add(n = 1): void {
    const second = Math.floor(this.now() / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + n);
    for (const key of this.buckets.keys()) if (key <= second - this.seconds) this.buckets.delete(key);
  }

  perSecond(): number {
    const second = Math.floor(this.now() / 1000);
    let total = 0;
    for (const [key, count] of this.buckets) if (key > second - this.seconds) total += count;
    return total / this.seconds;
  }
}

export interface MetricsServer {
  /** The address actually bound (the port the kernel chose for 0). */
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` and `/healthz`; resolves once listening. */
export function serveMetrics(address: { host: string; port: number }, source: MetricsSource): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(request.method === 'HEAD' ? undefined : metricsText(source));
    } else if (path === '/healthz') {
      const ok = source.healthy();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(ok ? 'ok\n' : 'unavailable\n');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics or /healthz\n');
    }
  });
  // A scraper that opens a connection and says nothing must not hold the worker's shutdown.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new UsageError(`--metrics ${address.host}:${address.port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`)));
    server.listen({ host: address.host, port: address.port }, () => {
      const bound = server.address() as AddressInfo;
      resolve({
        host: bound.address,
        port: bound.port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
