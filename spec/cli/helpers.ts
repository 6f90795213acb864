/**
 * Runs the built program (dist/) as a child process, as a user would. The
 * build is refreshed first when any source file is newer than it; a lock
 * directory keeps two test workers from building at the same time.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const PROGRAM = join(ROOT, 'dist', 'cli', 'tclmail.js');
const LOCK = join(ROOT, 'dist', '.spec-cli-build.lock');
const SOURCES = ['index.ts', 'lib', 'mime', 'smtp', 'bounce', 'cli', 'examples'];

function newestSource(path: string): number {
  const full = join(ROOT, path);
  if (!existsSync(full)) return 0;
  const stat = statSync(full);
  if (!stat.isDirectory()) return path.endsWith('.ts') ? stat.mtimeMs : 0;
  return Math.max(0, ...readdirSync(full).map((name) => newestSource(join(path, name))));
}

function stale(): boolean {
  if (!existsSync(PROGRAM)) return true;
  const built = statSync(PROGRAM).mtimeMs;
  return SOURCES.some((path) => newestSource(path) > built);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds dist/ with tsconfig.build.json when it is missing or older than the sources. */
export function ensureBuilt(): void {
  if (!stale()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock older than the deadline was left by a killed run.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 180_000) rmdirSync(LOCK);
      if (Date.now() > deadline) throw new Error('timed out waiting for another build of dist/');
      sleep(250);
    }
  }
  try {
    if (!stale()) return;
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
    // tsc emits even with type errors elsewhere in the tree; only a missing program stops the tests.
    if (!existsSync(PROGRAM)) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmdirSync(LOCK);
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tclmail ...args` to the end. */
export function run(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROGRAM, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, TCLMAIL_PASSWORD: undefined, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Starts `tclmail ...args` and hands back the child; the caller stops it by PID. */
export function start(args: string[], options: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [PROGRAM, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the first line of `child`'s standard output that matches, collecting all lines. */
export function lines(child: ChildProcess): { seen: string[]; waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray> } {
  const seen: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      seen.push(text);
      for (const waiter of [...waiters]) {
        const match = text.match(waiter.pattern);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    }
  });
  return {
    seen,
    waitFor(pattern, timeoutMs = 20_000) {
      for (const text of seen) {
        const match = text.match(pattern);
        if (match) return Promise.resolve(match);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matched ${pattern}; saw:\n${seen.join('\n')}`)), timeoutMs);
        waiters.push({ pattern, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
  };
}

/** Sends SIGTERM to the child by its PID and waits for it to exit. */
export function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    child.once('exit', (code) => resolve(code));
    process.kill(child.pid!, 'SIGTERM');
  });
}
