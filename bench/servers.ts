/**
 * The sink servers, each a child process stopped by its PID: Postfix's
 * smtp-sink when installed, else (and always for R1's delayed replies) the
 * sink of sink.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';

export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';

export interface RunningSink {
  kind: 'smtp-sink' | 'bench-sink';
  host: string;
  port: number;
  pid: number;
  /** Counters of the bench sink (null for smtp-sink, which keeps none we can read). */
  stats(): Promise<{ messages: number; recipients: number; turns: number[] } | null>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function postfixToolsInstalled(): boolean {
  return existsSync(SMTP_SINK) && existsSync(SMTP_SOURCE);
}

/** A port free on 127.0.0.1 right now (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const force = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 2000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
  });
}

/** Postfix's smtp-sink on 127.0.0.1; resolves once it accepts connections. */
export async function startSmtpSink(): Promise<RunningSink> {
  const host = '127.0.0.1';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // smtp-sink refuses to run as root without a user to switch to.
    const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    const child = spawn(SMTP_SINK, [...user, `${host}:${port}`, '1024'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let wait = 0; wait < 100 && child.exitCode === null; wait++) {
      if (await canConnect(host, port)) {
        return {
          kind: 'smtp-sink',
          host,
          port,
          pid: child.pid as number,
          stats: async () => null,
          reset: async () => undefined,
          stop: () => stopChild(child),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stopChild(child);
    // Another process may have taken the port between the probe and the bind: try another.
    if (!/address already in use/i.test(stderr)) throw new Error(`smtp-sink did not start: ${stderr.trim()}`);
  }
  throw new Error('smtp-sink did not start: no free port');
}

/** The sink of sink.ts in a child process, with replies delayed by `delayMs`. */
export function startBenchSink(delayMs = 0): Promise<RunningSink> {
  const child = spawn(process.execPath, [join(__dirname, 'sink.js'), String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const ask = <T>(question: string, key: string): Promise<T> =>
    new Promise((resolve) => {
      const onMessage = (message: Record<string, unknown>): void => {
        if (!(key in message)) return;
        child.off('message', onMessage);
        resolve(message[key] as T);
      };
      child.on('message', onMessage);
      child.send(question);
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n')) return;
      child.stdout?.off('data', onData);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        kind: 'bench-sink',
        host: '127.0.0.1',
        port,
        pid: child.pid as number,
        stats: () => ask('stats', 'stats'),
        reset: () => ask<void>('reset', 'reset'),
        stop: () => stopChild(child),
      });
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the bench sink exited with ${code} before it listened`)));
  });
}
