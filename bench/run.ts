/**
 * `npm run bench`: issue 8's workloads through tclmail, nodemailer and (when
 * installed) Postfix's smtp-source against one sink on 127.0.0.1, runs
 * interleaved, medians and ratios, written to docs/benchmarks.md.
 *
 *   npm run bench                       full sizes, 5 runs each, writes docs/benchmarks.md
 *   npm run bench -- --quick            small sizes, 3 runs each, under a minute, prints only
 *   npm run bench -- --warm             the steady state: messages sent before the clock starts
 *   options: --runs N (≥ 3)  --only W1,R1  --sink bench  --bulk pool|sendmany  --write  --no-write
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeMachine } from './machine';
import { resultsSection, type Run, type Summary, summarize, table, writeResults } from './report';
import { postfixToolsInstalled, type RunningSink, startBenchSink, startSmtpSink } from './servers';
import { runSmtpSource } from './smtp-source';
import { round } from './stats';
import { implementationsFor, type RunResult, type RunSpec, sizeOf, type WorkloadName, WORKLOADS } from './workloads';

import { packageRoot } from './root';

const ROOT = packageRoot();

interface Args {
  quick: boolean;
  warm: boolean;
  bulk: 'pool' | 'sendmany';
  runs: number;
  only: WorkloadName[];
  ownSink: boolean;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, warm: false, bulk: 'pool', runs: 0, only: [...WORKLOADS], ownSink: false, write: true };
  let writeGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--warm') args.warm = true;
    else if (a === '--bulk') args.bulk = argv[++i] === 'sendmany' ? 'sendmany' : 'pool';
    else if (a === '--runs') args.runs = Math.max(3, Number(argv[++i]) || 3);
    else if (a === '--only') args.only = String(argv[++i]).split(',').map((w) => w.trim().toUpperCase() as WorkloadName);
    else if (a === '--sink') args.ownSink = argv[++i] === 'bench';
    else if (a === '--write') (args.write = true), (writeGiven = true);
    else if (a === '--no-write') (args.write = false), (writeGiven = true);
    else throw new Error(`unknown argument ${a}: see bench/run.ts`);
  }
  for (const w of args.only) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  if (args.runs === 0) args.runs = args.quick ? 3 : 5;
  // A quick run is a smoke test: it does not replace the table unless asked to.
  if (args.quick && !writeGiven) args.write = false;
  return args;
}

/** A file of random bytes (incompressible, so no encoder gets an easy ride). */
function randomFile(dir: string, name: string, bytes: number): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  try {
    for (let left = bytes; left > 0; left -= 1024 * 1024) writeSync(fd, randomBytes(Math.min(left, 1024 * 1024)));
  } finally {
    closeSync(fd);
  }
  return path;
}

/** One run of tclmail or nodemailer in a child process, killed by its PID if it overstays. */
function runClient(spec: RunSpec, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'client.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${spec.implementation} ${spec.workload} ended with ${code ?? signal}: ${err.trim().slice(0, 2000)}`));
        return;
      }
      const last = out.trim().split('\n').pop() ?? '';
      resolvePromise(JSON.parse(last) as RunResult);
    });
  });
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const postfix = postfixToolsInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-bench-'));
  const sinks: RunningSink[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of sinks.splice(0)) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const primary = postfix && !args.ownSink ? await startSmtpSink() : await startBenchSink(0);
    sinks.push(primary);
    const delayed = await startBenchSink(sizeOf('R1', args.quick, args.warm).delayMs);
    sinks.push(delayed);
    progress(`sink: ${primary.kind} on ${primary.host}:${primary.port} (pid ${primary.pid}); R1/R2 sink pid ${delayed.pid}`);
    const machine = describeMachine(ROOT);
    const timeoutMs = args.quick ? 60_000 : 600_000;
    const summaries: Summary[] = [];

    for (const workload of args.only) {
      const size = sizeOf(workload, args.quick, args.warm);
      const file = size.attachment > 0 ? randomFile(dir, `${workload.toLowerCase()}-data.bin`, size.attachment) : '';
      const sink = workload === 'R1' || workload === 'R2' ? delayed : primary;
      const implementations = implementationsFor(workload, postfix);
      const runs: Run[] = [];
      for (let pass = 0; pass < args.runs; pass++) {
        for (const implementation of implementations) {
          const spec: RunSpec = { ...size, workload, implementation, host: sink.host, port: sink.port, file, bulk: args.bulk };
          await sink.reset();
          const result = implementation === 'smtp-source' ? await runSmtpSource(spec, timeoutMs) : await runClient(spec, timeoutMs);
          const stats = await sink.stats();
          const run: Run = { implementation, result };
          // The timed message's connection is the last to close.
          if (workload === 'R1' && stats) run.turns = stats.turns[stats.turns.length - 1];
          const sent = result.messages + (implementation === 'smtp-source' ? 0 : size.warmup);
          if (stats && workload !== 'M1' && stats.messages !== sent) {
            throw new Error(`${implementation} ${workload}: the sink received ${stats.messages} messages, the client reported ${sent}`);
          }
          runs.push(run);
          progress(`${workload} ${implementation} run ${pass + 1}/${args.runs}: ${round(result.elapsedMs)} ms for ${result.messages} message(s)`);
        }
      }
      if (file) rmSync(file, { force: true });
      summaries.push(summarize(workload, size, implementations, runs));
    }

    const sinkName = primary.kind === 'smtp-sink' ? `Postfix smtp-sink (${primary.host})` : `the bench's own sink, bench/sink.ts (${primary.host})`;
    process.stdout.write(`\n${table(summaries)}\n`);
    if (args.write) {
      const path = join(ROOT, 'docs', 'benchmarks.md');
      writeResults(path, args.warm ? 'warm' : 'cold', resultsSection(summaries, { machine, quick: args.quick, warm: args.warm, runs: args.runs, sink: sinkName }));
      progress(`written to ${path}`);
    }
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
