/**
 * `tclmail worker`: sends for every campaign in one Redis until SIGTERM, on
 * any number of machines at once. Each item is rendered from the campaign's
 * stored template and the row's values, never from local files. SIGTERM or
 * SIGINT drains (no new message starts; those in flight finish and are
 * recorded; claimed items not started go back to the queue) and exits 0; a
 * second signal exits at once, leaving the items in flight `uncertain`.
 */
import { readFileSync } from 'node:fs';
import * as mime from '../../mime';
import type * as smtp from '../../smtp';
import { EXIT, integerFlag, parseFlags, stringFlag, UsageError } from '../args';
import type { Command, Flags, Io } from '../args';
import { requireReadableFile } from '../compose';
import { FleetLog, logFormat } from '../fleet-log';
import { metricsAddress, RateWindow, serveMetrics } from '../fleet-metrics';
import type { MetricsServer, WorkerCounters } from '../fleet-metrics';
import { REDIS_FLAGS, redisTarget } from '../redis-url';
import { renderStored } from '../template-store';
import { isInputError, sendOptions, SENDING_FLAGS } from './send';
import { openFleet, startWorker } from '../../smtp/bulk/fleet';
import type { Fleet, FleetWorker, WorkerEvent } from '../../smtp/bulk/fleet';
import { CLIENT } from '../../smtp/bulk/fleet/connection';
import { sweepFinished } from '../fleet-retention';

const HELP = `Usage: tclmail worker --redis URL [options]

Sends for every campaign in that Redis (enqueued with 'tclmail bulk
TEMPLATE LIST --redis URL --campaign NAME') until SIGTERM. Run as many
workers as you like, on as many machines: each item is sent once, and an
item whose worker died before its end of data is sent by another.

  --redis URL            redis://HOST:PORT[/DB], or rediss:// for TLS
  --redis-file FILE      the URL from the first line of FILE (use this, or
                         TCLMAIL_REDIS_URL, for a URL with a password: a
                         password in --redis is refused, as ps shows it)
  --concurrency N        messages in flight on this worker, pipelined ones
                         included (default 5): a worker killed at any
                         instant leaves at most N items uncertain
  --retries N            tries again after a temporary failure (default 3)
  --retry-delay SECS     wait before the first retry (default 5)
  --lease-secs N         seconds a claim lasts without renewal (default 30)
  --log json             one JSON object per line on standard output (time,
                         level, event, campaign, item, state, code);
                         default: text lines on standard error
  --metrics [HOST:]PORT  serve /metrics (Prometheus text) and /healthz
                         (200 running and connected, 503 otherwise);
                         the host is 127.0.0.1 unless given
  --unsubscribe-secret-file FILE  the secret of the one-click unsubscribe
                         tokens, for campaigns enqueued with --unsubscribe
                         URL (the secret is never stored in Redis; without
                         it such a campaign's items wait for a worker that
                         has it)
  --allow-unsafe-redis   start even when Redis does not persist every write
                         (appendonly yes, appendfsync always): a Redis crash
                         can then resend up to about a second of messages

Sending (as for tclmail send and bulk):
  --servers A,B  --ports 25,587  --client NAME
  --starttls / --no-starttls  --ca FILE  --tlsimport  --maxsecs N  --debug
  --username USER with --password-file FILE or TCLMAIL_PASSWORD
  -h, --help             show this help

The envelope sender is the campaign's (--originator of 'tclmail bulk', else
its template's From), so a worker takes no --originator.

Exit status: 0 after a graceful stop (SIGTERM or SIGINT); 2 when the worker
cannot start (Redis unsafe, bullmq or ioredis missing); 64 usage error.
`;

const FLAGS = {
  ...REDIS_FLAGS,
  concurrency: { type: 'string' },
  retries: { type: 'string' },
  'retry-delay': { type: 'string' },
  'lease-secs': { type: 'string' },
  log: { type: 'string' },
  metrics: { type: 'string' },
  'allow-unsafe-redis': { type: 'boolean' },
  'unsubscribe-secret-file': { type: 'string' },
  ...SENDING_FLAGS,
} as const;

function seconds(flags: Flags, name: string): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} expects a positive number of seconds, not ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * The messages this worker rendered and has not finalized: the fleet's worker
 * does not finalize what a render hook made, so the last word on an item
 * (an outcome, a deferral, a lost claim) releases its token here. Without
 * this, every message's parts would stay registered for the worker's life.
 */
class Rendered {
  private readonly tokens = new Map<string, mime.Token>();

  add(campaign: string, id: string, token: mime.Token): mime.Token {
    const key = `${campaign}\0${id}`;
    this.release(key);
    this.tokens.set(key, token);
    return token;
  }

  done(event: WorkerEvent): void {
    if (event.type === 'outcome' || event.type === 'deferred' || event.type === 'lost') this.release(`${event.campaign}\0${event.id}`);
  }

  private release(key: string): void {
    const token = this.tokens.get(key);
    if (token === undefined) return;
    this.tokens.delete(key);
    mime.finalize(token, { subordinates: 'all' });
  }
}

/** What the metrics endpoint counts before the worker has started. */
const NOTHING_YET: WorkerCounters = { sent: 0, refused: 0, failed: 0, uncertain: 0, deferred: 0, suppressed: 0 };

/** The worker's figures for logs and the metrics endpoint beyond its own counts (FleetWorker.stats). */
class Figures {
  readonly rate = new RateWindow();
  connected = false;
  running = false;

  record(event: WorkerEvent): void {
    if (event.type === 'outcome') this.rate.add();
  }
}

function logEvent(log: FleetLog, event: WorkerEvent): void {
  switch (event.type) {
    case 'suppressed':
      log.info('suppressed', { campaign: event.campaign, item: event.id, state: 'suppressed' });
      break;
    case 'outcome':
      (event.state === 'sent' ? log.info.bind(log) : log.warn.bind(log))('outcome', {
        campaign: event.campaign,
        item: event.id,
        state: event.state,
        code: event.code,
        attempts: event.attempts,
        ...(event.diagnostic !== '' ? { diagnostic: event.diagnostic } : {}),
      });
      break;
    case 'deferred':
      log.info('deferred', { campaign: event.campaign, item: event.id, state: 'deferred', code: event.code, attempts: event.attempts, diagnostic: event.diagnostic, due: new Date(event.dueMs).toISOString() });
      break;
    case 'lost':
      log.warn('lost-claim', { campaign: event.campaign, item: event.id, reason: event.reason });
      break;
    case 'error':
      log.error('error', { diagnostic: event.error.message });
      break;
  }
}

/** Milliseconds between looks for finished campaigns to set expiring (a few cheap reads per campaign). */
const SWEEP_MS = 10_000;

/**
 * A fleet handle of the worker's own: its connection says whether Redis
 * answers (for /healthz and the log: the worker's connections wait through
 * an outage without a word), and it sets finished campaigns to expire.
 */
async function watch(url: string, shown: string, figures: Figures, log: FleetLog): Promise<{ fleet: Fleet; stop: () => Promise<void> }> {
  const fleet = await openFleet(url);
  const client = fleet[CLIENT];
  figures.connected = client.status === 'ready';
  client.on('ready', () => {
    if (!figures.connected) log.info('redis-up', { redis: shown });
    figures.connected = true;
  });
  client.on('close', () => {
    if (figures.connected && figures.running) log.warn('redis-down', { redis: shown, diagnostic: 'waiting for Redis; sending resumes when it is back' });
    figures.connected = false;
  });
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = (): void => {
    if (!figures.connected) return;
    sweeping = sweepFinished(fleet).then(
      (expiring) => {
        for (const e of expiring) log.info('retention', { campaign: e.campaign, state: 'finished', expiresInSecs: e.seconds });
      },
      (error: Error) => log.warn('retention', { diagnostic: error.message }),
    );
  };
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();
  setTimeout(sweep, 1000).unref();
  return {
    fleet,
    stop: async () => {
      clearInterval(timer);
      await sweeping;
      await fleet.close();
    },
  };
}

export const worker: Command = {
  name: 'worker',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags } = parseFlags(argv, FLAGS, { min: 0, max: 0 });
    if (flags.originator !== undefined) throw new UsageError("--originator belongs to the campaign: give it to 'tclmail bulk ... --redis' when enqueuing");
    const target = redisTarget(flags, io);
    const log = new FleetLog(logFormat(stringFlag(flags, 'log')), io);
    const concurrency = integerFlag(flags, 'concurrency', 1, 1000);
    const retries = integerFlag(flags, 'retries', 0, 100);
    const retryDelay = seconds(flags, 'retry-delay');
    const leaseSecs = seconds(flags, 'lease-secs');
    const metricsAt = stringFlag(flags, 'metrics');
    const address = metricsAt === undefined ? undefined : metricsAddress(metricsAt);
    const secretFile = stringFlag(flags, 'unsubscribe-secret-file');
    let unsubscribeSecret: Buffer | undefined;
    if (secretFile !== undefined) {
      requireReadableFile('--unsubscribe-secret-file', secretFile);
      unsubscribeSecret = Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'utf8');
      if (unsubscribeSecret.length < 16) throw new UsageError(`--unsubscribe-secret-file: the secret in ${secretFile} has ${unsubscribeSecret.length} bytes; it needs at least 16 (the same file the unsubscribe receiver reads)`);
    }
    let options: smtp.SendMessageOptions;
    try {
      options = sendOptions(flags, io, []);
    } catch (error) {
      if (isInputError(error)) throw new UsageError((error as Error).message);
      throw error;
    }

    const figures = new Figures();
    const rendered = new Rendered();
    let running: FleetWorker | undefined;
    let watcher: { stop: () => Promise<void> } | undefined;
    let metrics: MetricsServer | undefined;
    if (address !== undefined) {
      metrics = await serveMetrics(address, {
        counters: () => running?.stats() ?? NOTHING_YET,
        inFlight: () => running?.stats().inFlight ?? 0,
        rate: () => figures.rate.perSecond(),
        healthy: () => figures.running && figures.connected,
      });
      log.info('metrics', { url: `http://${metrics.host.includes(':') ? `[${metrics.host}]` : metrics.host}:${metrics.port}/metrics` });
    }

    // Signals are taken before the worker starts, so one that comes while it connects still drains.
    let stopping: (() => void) | undefined;
    const stopped = new Promise<string>((resolve) => {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          log.error('stopped', { signal, diagnostic: 'a second signal: stopping at once; messages in flight stay uncertain' });
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        resolve(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      stopping = () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      };
    });

    try {
      try {
        running = await Promise.race([
          startWorker({
            ...options,
            connection: target.url,
            ...(concurrency !== undefined ? { concurrency } : {}),
            ...(retries !== undefined ? { retries } : {}),
            ...(retryDelay !== undefined ? { retryDelay } : {}),
            ...(leaseSecs !== undefined ? { leaseSecs } : {}),
            allowUnsafeRedis: flags['allow-unsafe-redis'] === true,
            ...(unsubscribeSecret !== undefined ? { unsubscribeSecret } : {}),
            render: (campaign, item) => rendered.add(campaign.campaign, item.id, renderStored(campaign.template, campaign.templateDigest, item.values, item.recipient)),
            onEvent: (event) => {
              rendered.done(event);
              figures.record(event);
              logEvent(log, event);
            },
          }),
          stopped.then(() => undefined),
        ]);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'EDURABILITY' || code === 'EDEPENDENCY' || code === 'EREDIS') {
          log.error('refused', { diagnostic: (error as Error).message });
          return EXIT.FAILED;
        }
        if (isInputError(error)) throw new UsageError((error as Error).message);
        throw error;
      }
      if (running === undefined) {
        log.info('stopped', { diagnostic: 'a signal came before the worker had started' });
        return EXIT.OK;
      }
      figures.running = true;
      watcher = await watch(target.url, target.shown, figures, log);
      const durability = running.durability;
      if (durability !== null && !durability.durable) log.warn('unsafe-redis', { diagnostic: `Redis does not persist every write (${durability.problem}): a Redis crash can resend up to about a second of messages` });
      log.info('started', { worker: running.id, redis: target.shown, concurrency: concurrency ?? 5 });

      const signal = await stopped;
      figures.running = false;
      log.info('stopping', { signal, inFlight: running.stats().inFlight });
      await running.close();
      const stats = running.stats();
      log.info('stopped', { signal, sent: stats.sent, refused: stats.refused, failed: stats.failed, uncertain: stats.uncertain, deferred: stats.deferred });
      return EXIT.OK;
    } finally {
      stopping?.();
      await watcher?.stop();
      await metrics?.close();
    }
  },
};
