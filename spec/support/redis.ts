/**
 * A throw-away Redis for the fleet tests: `redis-server` on 127.0.0.1, a
 * free port, a temporary data directory, and every write persisted before it
 * is answered (`--appendonly yes --appendfsync always --save ''`). It can be
 * killed with any signal and started again on the same data directory and
 * port, as the chaos test does. Stopped by PID. Without redis-server the fleet
 * suites skip with a message (CI installs it: apt-get install -y redis-server).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { exited, forgetOnExit, killOnExit, stopByPid } from './fixtures';
import { freePort } from './postfix';

export interface TestRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The data directory (the append-only file lives here). */
  dir: string;
  /** The PID of the running server (changes on restart). */
  readonly pid: number;
  /** Sends a signal to the server (SIGKILL to crash it, SIGSTOP/SIGCONT to freeze it). Resolves once a killing signal took effect. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same data directory and port; resolves when it answers. */
  restart(): Promise<void>;
  /** Stops the server by PID and removes the data directory. */
  stop(): Promise<void>;
}

let found: boolean | undefined;

/** True when redis-server is installed. */
export function hasRedis(): boolean {
  if (found === undefined) {
    found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
     
    if (!found) console.warn('Fleet tests skipped: redis-server is not installed (apt-get install -y redis-server).');
  }
  return found;
}

/** `describe` when redis-server is there, `describe.skip` (with the warning above) when it is not. */
export const describeWithRedis: jest.Describe = ((name: string, fn: () => void) =>
  hasRedis() ? describe(name, fn) : describe.skip(`${name} (skipped: redis-server not installed)`, fn)) as jest.Describe;

/** Resolves when the server answers PING, or rejects after `ms`. */
async function answering(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let reply = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        reply += chunk.toString('latin1');
        if (reply.includes('\r\n')) {
          socket.destroy();
          // A server that asks for a password is up as well.
          resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a Redis that persists every write, in a fresh temporary directory. */
export async function startRedis(options: { extraArgs?: string[] } = {}): Promise<TestRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let pid = 0;
  let log = '';
  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no',
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--protected-mode', 'yes', '--loglevel', 'warning',
      ...(options.extraArgs ?? []),
    ];
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-4000)));
    started.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-4000)));
    child = started;
    pid = started.pid!;
    killOnExit(pid);
    try {
      await answering(port, 15000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${log}`);
    }
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return pid;
    },
    async kill(signal) {
      process.kill(pid, signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') {
        await exited(child!, 10000);
        forgetOnExit(pid);
      }
    },
    async restart() {
      if (child && child.exitCode === null && child.signalCode === null) await stopByPid(child, pid, 5000);
      await launch();
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        // A frozen server cannot act on SIGTERM.
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // already gone
        }
        await stopByPid(child, pid, 5000);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
