/**
 * Set-up shared by the test files: the error a promise rejects with, a port
 * where nothing listens, and clean-up after each test of whatever the test
 * opened (servers, sessions, journals, mime tokens).
 */
import * as net from 'node:net';
import { SmtpError } from '../../lib/errors';
import * as mime from '../../mime';
import type { ChildProcess } from 'node:child_process';

/** The error `promise` rejects with; throws when it resolves instead. */
export async function thrown(promise: Promise<unknown>): Promise<SmtpError> {
  try {
    await promise;
  } catch (error) {
    return error as SmtpError;
  }
  throw new Error('expected a rejection');
}

/** As {@link thrown}, and expects the error to be an SmtpError. */
export async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  const error = await thrown(promise);
  expect(error).toBeInstanceOf(SmtpError);
  return error;
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** What most things a test opens offer to let go of them. */
export interface Closable {
  close(): unknown;
}

export interface Tracker {
  /** Lets go of `item` after the test with `release`, or with its own close(); gives `item` back. */
  add<T extends Closable>(item: T): T;
  add<T>(item: T, release: (item: T) => unknown): T;
  /** `open`, with each thing it opens let go of after the test. */
  opener<A extends unknown[], T extends Closable>(open: (...args: A) => Promise<T>): (...args: A) => Promise<T>;
}

/**
 * A tracker whose afterEach, in the describe block (or file) that calls this,
 * lets go of everything added during the test, the newest first, so that a
 * session goes before the server it talks to. Every release runs; the first
 * that fails then fails the test.
 */
export function tracked(): Tracker {
  const releases: Array<() => unknown> = [];
  afterEach(async () => {
    let failed: { error: unknown } | undefined;
    for (const release of releases.splice(0).reverse()) {
      try {
        await release();
      } catch (error) {
        failed ??= { error };
      }
    }
    if (failed) throw failed.error;
  });
  function add<T>(item: T, release?: (item: T) => unknown): T {
    releases.push(() => (release ? release(item) : (item as unknown as Closable).close()));
    return item;
  }
  return {
    add,
    opener: (open) => async (...args) => add(await open(...args)),
  };
}

/** Releases a mime token and every part below it. */
export function releaseToken(token: mime.Token): void {
  mime.finalize(token, { subordinates: 'all' });
}

const running = new Set<number>();
let exitHookInstalled = false;

/** Sends SIGTERM, when the test process exits, to a server process a test started and forgot to stop. */
export function killOnExit(pid: number): void {
  running.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const each of running) {
      try {
        process.kill(each, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/** The process was stopped: nothing left to do at exit. */
export function forgetOnExit(pid: number): void {
  running.delete(pid);
}

/** True once the child has exited; false if it is still running after `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Stops a server process by its PID: SIGTERM, then SIGKILL if it has not exited
 * within `graceMs` (to its whole process group with `group`, for a server whose
 * daemons share its group), and forgets it for the exit hook.
 */
export async function stopByPid(child: ChildProcess, pid: number, graceMs: number, group = false): Promise<void> {
  const signal = (target: number, name: NodeJS.Signals): void => {
    try {
      process.kill(target, name);
    } catch {
      // already gone
    }
  };
  signal(pid, 'SIGTERM');
  if (!(await exited(child, graceMs))) {
    signal(group ? -pid : pid, 'SIGKILL');
    await exited(child, 5000);
  }
  forgetOnExit(pid);
}
