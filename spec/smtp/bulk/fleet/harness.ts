/**
 * What the heavy fleet tests share: a recording SMTP server (every message
 * with its item id, worker, recipients and arrival time) and worker processes
 * (spec/support/fleet-child.js) that can be killed, frozen and stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { exited, forgetOnExit, killOnExit } from '../../../support/fixtures';

export interface Delivery {
  id: string;
  worker: string;
  rcpt: string[];
  /** When the end of data arrived (ms since the epoch, this process's clock). */
  at: number;
}

export interface Recorder {
  port: number;
  deliveries: Delivery[];
  /** Called at each end of data, before the reply goes out: may kill the sender first. */
  onMessage: ((delivery: Delivery) => void) | null;
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const recorder: Recorder = { port: 0, deliveries: [], onMessage: null, close: async () => undefined };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    closeTimeout: 50,
    maxClients: 200,
    onData(stream, session: SMTPServerSession, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 2000) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const delivery: Delivery = {
          id: /^X-Item-Id: *(.*)$/m.exec(head)?.[1].trim() ?? '?',
          worker: /^X-Fleet-Worker: *(.*)$/m.exec(head)?.[1].trim() ?? '?',
          rcpt: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          at: Date.now(),
        };
        recorder.deliveries.push(delivery);
        recorder.onMessage?.(delivery);
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  recorder.port = (server.server.address() as { port: number }).port;
  recorder.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return recorder;
}

const DRIVER = path.join(__dirname, '..', '..', '..', 'support', 'fleet-child.js');

export interface WorkerProcess {
  id: string;
  child: ChildProcess;
  pid: number;
  /** Every JSON line it wrote. */
  lines: Array<Record<string, unknown>>;
  stderr: string;
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: string | null }>;
  signal(name: NodeJS.Signals): void;
  /** SIGTERM, then its exit (SIGKILL after `ms`). */
  stop(ms?: number): Promise<{ code: number | null; signal: string | null }>;
}

export function spawnWorker(settings: { url: string; port: number; workerId: string; concurrency: number; leaseSecs: number; stalledSecs: number }): WorkerProcess {
  const child = spawn(process.execPath, [DRIVER, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  killOnExit(pid);
  const proc: WorkerProcess = {
    id: settings.workerId, child, pid, lines: [], stderr: '',
    ready: Promise.resolve(),
    exit: new Promise((resolve) => child.on('exit', (code, signal) => {
      forgetOnExit(pid);
      resolve({ code, signal });
    })),
    signal: (name) => {
      try {
        process.kill(pid, name);
      } catch {
        // already gone
      }
    },
    stop: async (ms = 60000) => {
      proc.signal('SIGCONT');
      proc.signal('SIGTERM');
      if (!(await exited(child, ms))) {
        // The test will fail on the exit status; its output says where the close hung.
        console.log(`worker ${proc.id} did not stop within ${ms} ms of SIGTERM; its last events:\n${proc.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${proc.stderr.slice(-2000)}`);
        proc.signal('SIGKILL');
      }
      return proc.exit;
    },
  };
  let buffer = '';
  proc.ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          proc.lines.push(line);
          if (line.type === 'ready') resolve();
        } catch {
          // A line cut short by a kill.
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (proc.stderr += chunk.toString('utf8')));
    child.on('exit', (code) => reject(new Error(`worker ${settings.workerId} exited (${code}) before it was ready: ${proc.stderr}`)));
  });
  proc.ready.catch(() => undefined);
  return proc;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Most deliveries in any window of `ms` (sliding, from each delivery's time). */
export function busiestWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= ms) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
