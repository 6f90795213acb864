/**
 * One run per journal: the lock file `<journal>.lock`. Node has no portable
 * `flock`, so the lock is a file taken atomically: written whole under a name
 * of its own, then `link()`ed to the lock's name, which fails when the name
 * exists. A reader therefore never sees a half-written lock.
 *
 * The lock names its owner: host, boot id, process id and the process's start
 * time (field 22 of /proc/PID/stat), so that a recycled PID is not mistaken
 * for the owner. It is taken over only when the owner is provably gone: same
 * host and boot, and the PID absent or started at another time. Anything else
 * (another host, another boot, an unreadable lock) is doubt, and doubt refuses,
 * naming `--break-lock`. A take-over is itself serialised by `<lock>.break`,
 * made the same way, so that two runs finding one stale lock cannot both win.
 */
import { promises as fs, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { JournalError } from '../../lib/errors';

/** What a lock file records. */
export interface LockOwner {
  host: string;
  bootId: string;
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22), '' where unknown. */
  start: string;
  /** When the lock was taken (ISO 8601). */
  at: string;
}

/** A journal held by a live run, or a lock that cannot be judged: the message says what to do. */
export class JournalLockError extends JournalError {
  readonly reason = 'locked' as const;
  constructor(
    file: string,
    message: string,
    /** The owner the lock names, when it could be read. */
    readonly owner: LockOwner | null,
  ) {
    super(file, message);
    this.name = 'JournalLockError';
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Field 22 of /proc/PID/stat (the fields after the command name, which may hold spaces and parentheses). */
export function processStart(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process as a lock owner. */
export function self(): LockOwner {
  return { host: hostname(), bootId: bootId(), pid: process.pid, start: processStart(process.pid) ?? '', at: new Date().toISOString() };
}

function parseOwner(text: string): LockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.host !== 'string' || typeof v.bootId !== 'string' || typeof v.start !== 'string' || typeof v.at !== 'string') return null;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return v as LockOwner;
  } catch {
    return null;
  }
}

/** `gone` only when this host can prove the owner is no longer running. */
function judge(owner: LockOwner, me: LockOwner): 'alive' | 'gone' | 'doubt' {
  if (owner.host !== me.host || owner.bootId === '' || owner.bootId !== me.bootId) return 'doubt';
  if (!processAlive(owner.pid)) return 'gone';
  const start = processStart(owner.pid);
  if (start === null || owner.start === '') return processAlive(owner.pid) ? 'alive' : 'gone';
  return start === owner.start ? 'alive' : 'gone';
}

const HINT = 'if you are sure no run uses this journal, run again with --break-lock (breakLock: true)';

function describeOwner(owner: LockOwner): string {
  return `process ${owner.pid} on ${owner.host} since ${owner.at}`;
}

/** Writes `owner` under a unique name, then links it to `target`; false when `target` exists. */
async function linkInPlace(target: string, owner: LockOwner): Promise<boolean> {
  const temporary = `${target}.${owner.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await fs.open(temporary, 'wx');
  try {
    await handle.writeFile(JSON.stringify(owner) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(temporary, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.unlink(temporary).catch(() => undefined);
  }
}

async function readOwner(lockFile: string): Promise<{ text: string; owner: LockOwner | null } | null> {
  try {
    const text = await fs.readFile(lockFile, 'utf8');
    return { text, owner: parseOwner(text) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** A lock held by this process; `release()` removes it if it is still ours. */
export class JournalLock {
  private released = false;

  private constructor(
    readonly lockFile: string,
    private readonly content: string,
  ) {}

  /**
   * Takes the lock of `journal`. With `breakLock`, a lock left in place is
   * removed first whoever holds it (the operator has checked).
   * @throws JournalLockError when another run holds it, or its owner cannot be judged.
   */
  static async take(journal: string, options: { breakLock?: boolean } = {}): Promise<JournalLock> {
    const lockFile = `${journal}.lock`;
    const breakFile = `${lockFile}.break`;
    const me = self();
    const content = JSON.stringify(me) + '\n';
    if (options.breakLock) {
      await fs.unlink(lockFile).catch(() => undefined);
      await fs.unlink(breakFile).catch(() => undefined);
    }
    for (let round = 0; round < 3; round++) {
      if (await linkInPlace(lockFile, me).catch((error: unknown) => {
        throw new JournalError(journal, `cannot create the lock ${lockFile}: ${(error as Error).message}`, { cause: error });
      })) {
        return new JournalLock(lockFile, content);
      }
      const found = await readOwner(lockFile);
      if (found === null) continue; // released between our link and our read: try again
      const { owner } = found;
      if (owner === null) throw new JournalLockError(journal, `the lock ${lockFile} cannot be read as a tclmail lock; ${HINT}`, null);
      if (owner.pid === me.pid && owner.host === me.host && owner.start === me.start) {
        throw new JournalLockError(journal, `already open in this process (lock ${lockFile})`, owner);
      }
      const verdict = judge(owner, me);
      if (verdict === 'alive') throw new JournalLockError(journal, `in use by ${describeOwner(owner)} (lock ${lockFile})`, owner);
      if (verdict === 'doubt') {
        throw new JournalLockError(journal, `locked by ${describeOwner(owner)}, which this host cannot check (another host or another boot); ${HINT}`, owner);
      }
      // The owner is gone: take its lock over, one taker at a time.
      if (!(await linkInPlace(breakFile, me))) {
        throw new JournalLockError(journal, `another run is taking over the stale lock ${lockFile} right now (or died doing it: ${breakFile}); ${HINT}`, owner);
      }
      try {
        const again = await readOwner(lockFile);
        if (again !== null && again.text === found.text) await fs.unlink(lockFile);
        if (await linkInPlace(lockFile, me)) return new JournalLock(lockFile, content);
      } finally {
        await fs.unlink(breakFile).catch(() => undefined);
      }
    }
    const last = await readOwner(lockFile);
    throw new JournalLockError(journal, `cannot take the lock ${lockFile}${last?.owner ? `: held by ${describeOwner(last.owner)}` : ''}`, last?.owner ?? null);
  }

  /** Removes the lock file if it still holds this run's record. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const now = await fs.readFile(this.lockFile, 'utf8').catch(() => null);
    if (now === this.content) await fs.unlink(this.lockFile).catch(() => undefined);
  }

  /** The same, synchronously: for a process that must exit at once (a second Ctrl-C). */
  releaseSync(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (readFileSync(this.lockFile, 'utf8') === this.content) unlinkSync(this.lockFile);
    } catch {
      // Gone already: nothing to release.
    }
  }
}
