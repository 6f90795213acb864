/// <reference types="jest" />
// (spec/support/redis.ts, which starts the Redis here, is typed for the tests.)
/**
 * `npm run bench:fleet`: the fleet against local sendmany, in one run, with
 * the same message count, against Postfix's smtp-sink when installed (else
 * bench/sink.ts):
 *
 * - local: `tclmail bulk TEMPLATE LIST --journal FILE` (sendmany, fsynced journal);
 * - fleet: `tclmail bulk ... --redis URL --campaign NAME` then 1, 2 and 4
 *   `tclmail worker` processes, on a Redis that persists every write
 *   (appendonly yes, appendfsync always).
 *
 * Each is timed from the start of its sending processes to the last outcome
 * recorded (the fleet's enqueue is timed apart), and its CPU time is read (children's user+system,
 * Redis's INFO cpu), giving messages per CPU-second: what one core can do,
 * and the queue's cost per message (fleet CPU minus local CPU, per message).
 *
 * Then the 5,000,000-row list: enqueued to Redis, with the enqueuing
 * process's peak RSS, the time, and Redis's memory per item.
 *
 *   npm run bench:fleet                        5,000 messages, 5M-row enqueue
 *   npm run bench:fleet -- --messages 2000 --rows 0 --sink bench
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { postfixToolsInstalled, startBenchSink, startSmtpSink } from './servers';
import type { RunningSink } from './servers';
import { startRedis } from '../spec/support/redis';
import type { TestRedis } from '../spec/support/redis';

import { packageRoot } from './root';

const ROOT = packageRoot();
const PROGRAM = join(ROOT, 'dist', 'cli', 'tclmail.js');
/** Runs the CLI in-process and prints its peak RSS on standard error's last line. */
const RSS_WRAPPER = join(__dirname, 'fleet-rss.js');

interface Args {
  messages: number;
  rows: number;
  concurrency: number;
  workers: number[];
  ownSink: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { messages: 5000, rows: 5_000_000, concurrency: 8, workers: [1, 2, 4], ownSink: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--messages') args.messages = Number(argv[++i]);
    else if (a === '--rows') args.rows = Number(argv[++i]);
    else if (a === '--concurrency') args.concurrency = Number(argv[++i]);
    else if (a === '--workers') args.workers = String(argv[++i]).split(',').map(Number);
    else if (a === '--sink') args.ownSink = argv[++i] === 'bench';
    else throw new Error(`unknown argument ${a}: see bench/fleet.ts`);
  }
  return args;
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** CPU seconds of this process's reaped children (user + system), from /proc. */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (cutime, cstime) in clock ticks; the slice starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function redisCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const value = (name: string): number => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? 0);
  return value('used_cpu_user') + value('used_cpu_sys') + value('used_cpu_user_children') + value('used_cpu_sys_children');
}

async function redisMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Runs `tclmail ...args` to its end; rejects on a non-zero exit. */
async function tclmail(args: string[], cwd: string, wrapper = false): Promise<{ stderr: string }> {
  const child = spawn(process.execPath, wrapper ? [RSS_WRAPPER, PROGRAM, ...args] : [PROGRAM, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`tclmail ${args.slice(0, 3).join(' ')} ... exited with ${code}: ${stderr.slice(-2000)}`);
  return { stderr };
}

/** Starts a worker and resolves once it logs `started`. */
function startWorker(args: string[], cwd: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [PROGRAM, 'worker', ...args, '--log', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: string): void => {
      out += chunk;
      if (out.includes('"event":"started"')) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(child);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it started: ${err.slice(-2000)}${out.slice(-2000)}`)));
  });
}

function writeList(path: string, rows: number): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, 'id,email,name,code\n');
    const block: string[] = [];
    for (let i = 1; i <= rows; i++) {
      block.push(`u${i},user${i}@example.net,Name ${i},c${i % 9973}\n`);
      if (block.length === 10_000) {
        writeSync(fd, block.join(''));
        block.length = 0;
      }
    }
    if (block.length > 0) writeSync(fd, block.join(''));
  } finally {
    closeSync(fd);
  }
}

const TEMPLATE = JSON.stringify({ from: 'Bench <bench@example.com>', subject: 'Your code {{code}}', text: 'Dear {{name}},\n\nyour code is {{code}}.\n\nRegards,\nthe bench\n' });

interface Measured {
  name: string;
  messages: number;
  seconds: number;
  cpu: number;
  redisCpu: number;
}

function perSecond(m: Measured): number {
  return m.messages / m.seconds;
}

/** Messages per CPU-second: what one core sends, every process of the path counted (the sink's excepted). */
function perCore(m: Measured): number {
  return m.messages / (m.cpu + m.redisCpu);
}

async function local(args: Args, dir: string, sink: RunningSink): Promise<Measured> {
  const journal = join(dir, `local-${Date.now()}.journal`);
  const cpu0 = childrenCpu();
  const t0 = performance.now();
  await tclmail(['bulk', 't.json', 'list.csv', '--servers', sink.host, '--ports', String(sink.port), '--no-starttls', '--concurrency', String(args.concurrency), '--journal', journal, '--progress', 'none'], dir);
  const seconds = (performance.now() - t0) / 1000;
  return { name: 'local sendmany + journal', messages: args.messages, seconds, cpu: childrenCpu() - cpu0, redisCpu: 0 };
}

/**
 * The list is enqueued first (timed on its own: in a fleet it happens once,
 * on another machine), then the clock starts with the workers' processes, as
 * the local run's clock starts with its process, and stops at the last outcome.
 */
async function fleet(args: Args, dir: string, sink: RunningSink, redis: TestRedis, admin: Redis, count: number): Promise<Measured & { enqueueSeconds: number }> {
  const campaign = `bench-${count}w-${Date.now()}`;
  const e0 = performance.now();
  await tclmail(['bulk', 't.json', 'list.csv', '--redis', redis.url, '--campaign', campaign], dir);
  const enqueueSeconds = (performance.now() - e0) / 1000;
  const cpu0 = childrenCpu();
  const redis0 = await redisCpu(admin);
  const t0 = performance.now();
  const workers = await Promise.all(
    Array.from({ length: count }, () => startWorker(['--redis', redis.url, '--servers', sink.host, '--ports', String(sink.port), '--no-starttls', '--concurrency', String(args.concurrency)], dir)),
  );
  const counts = `tclmail:c:${campaign}:counts`;
  for (;;) {
    const [sent, refused, failed, uncertain] = (await admin.hmget(counts, 'sent', 'refused', 'failed', 'uncertain')).map(Number);
    if (sent + refused + failed + uncertain >= args.messages) {
      if (sent !== args.messages) throw new Error(`${campaign}: ${sent} sent, ${refused} refused, ${failed} failed, ${uncertain} uncertain`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  const redisUsed = (await redisCpu(admin)) - redis0;
  for (const w of workers) process.kill(w.pid!, 'SIGTERM');
  const codes = await Promise.all(workers.map(exitOf));
  if (codes.some((c) => c !== 0)) throw new Error(`workers exited with ${codes.join(', ')}`);
  const cpu = childrenCpu() - cpu0;
  await tclmail(['bulk', '--purge', campaign, '--redis', redis.url], dir);
  return { name: `fleet, ${count} worker${count === 1 ? '' : 's'}`, messages: args.messages, seconds, cpu, redisCpu: redisUsed, enqueueSeconds };
}

async function bigEnqueue(rows: number, dir: string, redis: TestRedis, admin: Redis): Promise<{ seconds: number; peakRss: number; bytesPerItem: number; fileBytes: number }> {
  const path = join(dir, 'big.csv');
  progress(`writing a ${rows.toLocaleString('en')}-row list ...`);
  writeList(path, rows);
  const fileBytes = readFileSync(path).length;
  const memory0 = await redisMemory(admin);
  const t0 = performance.now();
  const { stderr } = await tclmail(['bulk', 't.json', path, '--redis', redis.url, '--campaign', 'big'], dir, true);
  const seconds = (performance.now() - t0) / 1000;
  const peakRss = Number(/maxRSS (\d+)/.exec(stderr)?.[1] ?? NaN);
  const bytesPerItem = ((await redisMemory(admin)) - memory0) / rows;
  rmSync(path, { force: true });
  return { seconds, peakRss, bytesPerItem, fileBytes };
}

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(PROGRAM)) throw new Error(`${PROGRAM} is missing: npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-bench-fleet-'));
  const postfix = postfixToolsInstalled();
  const sink = postfix && !args.ownSink ? await startSmtpSink() : await startBenchSink(0);
  const redis = await startRedis();
  const admin = new Redis(redis.port, '127.0.0.1');
  try {
    writeFileSync(join(dir, 't.json'), TEMPLATE);
    writeList(join(dir, 'list.csv'), args.messages);
    progress(`sink: ${sink.kind} on ${sink.host}:${sink.port}; redis-server ${redis.url} (appendonly yes, appendfsync always); ${cpus().length} cores`);
    const results: Array<Measured & { enqueueSeconds?: number }> = [];
    results.push(await local(args, dir, sink));
    progress(`${results[0].name}: ${perSecond(results[0]).toFixed(0)} msg/s`);
    for (const count of args.workers) {
      const m = await fleet(args, dir, sink, redis, admin, count);
      results.push(m);
      progress(`${m.name}: ${perSecond(m).toFixed(0)} msg/s`);
    }
    const base = results[0];
    const lines = [
      `Fleet benchmark: ${args.messages} messages, concurrency ${args.concurrency} per process, ${sink.kind === 'smtp-sink' ? "Postfix's smtp-sink" : 'bench/sink.ts'}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`,
      '',
      '| run | msg/s | ratio to local | CPU s (tclmail) | CPU s (Redis) | msg per CPU-second | enqueue s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((m) => `| ${m.name} | ${perSecond(m).toFixed(0)} | ${(perSecond(m) / perSecond(base)).toFixed(2)} | ${m.cpu.toFixed(2)} | ${m.redisCpu.toFixed(2)} | ${perCore(m).toFixed(0)} | ${m.enqueueSeconds === undefined ? '-' : m.enqueueSeconds.toFixed(1)} |`),
      '',
    ];
    const one = results[1];
    if (one) {
      const cost = ((one.cpu + one.redisCpu) / one.messages - base.cpu / base.messages) * 1e6;
      lines.push(`Queue cost per message (1 worker against local, CPU of the workers and Redis against the local process; the enqueue is not counted): ${cost.toFixed(0)} µs.`);
      lines.push(`Per core: local ${perCore(base).toFixed(0)} msg/CPU-s, fleet ${perCore(one).toFixed(0)} msg/CPU-s. On ${cpus().length} cores the workers, Redis and the sink share the CPUs, so more workers are not expected to scale here; on separate machines each worker core should send about ${perCore(one).toFixed(0)} msg/s until Redis (one core) is the limit.`);
    }
    if (args.rows > 0) {
      const big = await bigEnqueue(args.rows, dir, redis, admin);
      lines.push('', `Enqueue of a ${args.rows.toLocaleString('en')}-row list (${(big.fileBytes / MB).toFixed(0)} MB CSV): ${big.seconds.toFixed(0)} s (${(args.rows / big.seconds).toFixed(0)} rows/s), peak RSS of the enqueuing process ${(big.peakRss / MB).toFixed(0)} MB, Redis memory ${big.bytesPerItem.toFixed(0)} bytes per item.`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    admin.disconnect();
    await redis.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
