/**
 * Where the time goes: one workload by one client under `node --cpu-prof`,
 * then the functions and files with the most time, self and inclusive.
 *
 *   node dist-bench/bench/profile.js W1 tclmail [--quick] [--top 25] [--sink bench]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { postfixToolsInstalled, startBenchSink, startSmtpSink } from './servers';
import { type Implementation, type RunSpec, sizeOf, type WorkloadName } from './workloads';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Hot {
  name: string;
  selfMs: number;
  totalMs: number;
}

function where(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  if (path === '') return '(native)';
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

function keyOf(node: ProfileNode): string {
  const f = node.callFrame;
  return `${f.functionName || '(anonymous)'} ${where(f.url)}:${f.lineNumber + 1}`;
}

/**
 * Which part of the stack a function belongs to: tclmail's folders, a
 * dependency, Node's JavaScript, native code (mostly system calls), the
 * garbage collector, or idle (waiting for the server).
 */
export function areaOf(functionName: string, file: string): string {
  if (functionName === '(idle)') return 'idle (waiting for the peer)';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (file === '(native)') return 'native code (system calls, V8 built-ins)';
  if (file.startsWith('node:')) return "Node's runtime (net, streams, timers, with the system calls they make)";
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (dep) return `dependency ${dep[1]}`;
  const folder = /(?:^|\/)(mime|smtp|lib|bench)\/[^/]+$/.exec(file);
  return folder ? `tclmail ${folder[1]}/` : file;
}

/** Self and inclusive time per function, self time per file and per area, in ms. */
export function analyse(profile: CpuProfile): { totalMs: number; functions: Hot[]; files: Hot[]; areas: Hot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + ms);
    totalMs += ms;
  });
  const functions = new Map<string, Hot>();
  const files = new Map<string, Hot>();
  const areas = new Map<string, Hot>();
  // Inclusive time: a function counts once per stack, however deep it recurses.
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id) as ProfileNode;
    const key = keyOf(node);
    let inclusive = self.get(id) ?? 0;
    const nested = onStack.has(key);
    if (!nested) onStack.add(key);
    for (const child of node.children ?? []) inclusive += walk(child, onStack);
    if (!nested) onStack.delete(key);
    const hot = functions.get(key) ?? { name: key, selfMs: 0, totalMs: 0 };
    hot.selfMs += self.get(id) ?? 0;
    if (!nested) hot.totalMs += inclusive;
    functions.set(key, hot);
    const file = where(node.callFrame.url);
    const f = files.get(file) ?? { name: file, selfMs: 0, totalMs: 0 };
    f.selfMs += self.get(id) ?? 0;
    files.set(file, f);
    const areaName = areaOf(node.callFrame.functionName, file);
    const a = areas.get(areaName) ?? { name: areaName, selfMs: 0, totalMs: 0 };
    a.selfMs += self.get(id) ?? 0;
    areas.set(areaName, a);
    return inclusive;
  };
  walk(profile.nodes[0].id, new Set());
  return { totalMs, functions: [...functions.values()], files: [...files.values()], areas: [...areas.values()] };
}

function print(title: string, rows: Hot[], totalMs: number, top: number, by: 'selfMs' | 'totalMs'): void {
  process.stdout.write(`\n${title}\n`);
  for (const r of [...rows].sort((a, b) => b[by] - a[by]).slice(0, top)) {
    const pct = (r[by] / totalMs) * 100;
    process.stdout.write(`${pct.toFixed(1).padStart(6)} %  ${r[by].toFixed(0).padStart(7)} ms  ${r.name}\n`);
  }
}

async function main(): Promise<void> {
  // Piped into head, stdout may close early; the sink must still be stopped.
  process.stdout.on('error', () => undefined);
  const argv = process.argv.slice(2);
  const workload = (argv[0] ?? 'W1').toUpperCase() as WorkloadName;
  const implementation = (argv[1] ?? 'tclmail') as Implementation;
  const quick = argv.includes('--quick');
  const topAt = argv.indexOf('--top');
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 25;
  const ownSink = argv.includes('--sink') && argv[argv.indexOf('--sink') + 1] === 'bench';
  const size = sizeOf(workload, quick);
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-profile-'));
  const sink = workload === 'R1' ? await startBenchSink(size.delayMs) : postfixToolsInstalled() && !ownSink ? await startSmtpSink() : await startBenchSink(0);
  try {
    let file = '';
    if (size.attachment > 0) {
      file = join(dir, 'data.bin');
      writeFileSync(file, randomBytes(size.attachment));
    }
    const spec: RunSpec = { ...size, workload, implementation, host: sink.host, port: sink.port, file };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, join(__dirname, 'client.js'), JSON.stringify(spec)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`the client ended with ${code}`))));
    });
    process.stdout.write(`${workload} ${implementation}: ${out.trim().split('\n').pop()}\n`);
    const name = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!name) throw new Error('no .cpuprofile written');
    const result = analyse(JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile);
    process.stdout.write(`sampled ${result.totalMs.toFixed(0)} ms (whole process, start-up included)\n`);
    print('self time by area', result.areas, result.totalMs, top, 'selfMs');
    print('self time by file', result.files, result.totalMs, top, 'selfMs');
    print('self time by function', result.functions, result.totalMs, top, 'selfMs');
    print('inclusive time by function', result.functions, result.totalMs, top, 'totalMs');
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
