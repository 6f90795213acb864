/**
 * A worker records `sending` before each end of data and trusts that record
 * after a crash. That holds only if Redis has the write on disk before it
 * answers: `appendonly yes` with `appendfsync always`. Read through CONFIG
 * GET, or INFO persistence where a managed Redis blocks CONFIG (INFO shows
 * whether the append-only file is on, not its fsync policy).
 */
import { connectionFor, type FleetConnection } from './connection';
import { DurabilityError } from './errors';

/** What was found. */
export interface DurabilityReport {
  /** Every write is on disk before Redis answers. */
  durable: boolean;
  appendonly: boolean;
  /** `always`, `everysec`, `no`, or `unknown` when only INFO could be read. */
  appendfsync: string;
  /** Where it was read. */
  source: 'config' | 'info';
  /** What is wrong, in a few words (empty when durable). */
  problem: string;
}

/** Reads Redis's persistence settings. */
export async function inspectDurability(connection: FleetConnection): Promise<DurabilityReport> {
  const { redis, release } = connectionFor(connection);
  try {
    try {
      const aof = (await redis.call('CONFIG', 'GET', 'appendonly')) as string[];
      const fsync = (await redis.call('CONFIG', 'GET', 'appendfsync')) as string[];
      const appendonly = aof[1] === 'yes';
      const appendfsync = fsync[1] ?? 'unknown';
      const problems: string[] = [];
      if (!appendonly) problems.push(`appendonly ${aof[1] ?? 'unknown'}`);
      if (appendfsync !== 'always') problems.push(`appendfsync ${appendfsync}`);
      return { durable: problems.length === 0, appendonly, appendfsync, source: 'config', problem: problems.join(', ') };
    } catch (error) {
      // A managed Redis answers CONFIG with an error (unknown or renamed command, no permission).
      if (!(error instanceof Error) || !/ERR|NOPERM|unknown command/i.test(error.message)) throw error;
    }
    const info = (await redis.info('persistence'));
    const appendonly = /^aof_enabled:1\s*$/m.test(info);
    return {
      durable: false,
      appendonly,
      appendfsync: 'unknown',
      source: 'info',
      problem: appendonly ? 'appendfsync cannot be read (CONFIG is blocked)' : 'appendonly no (aof_enabled:0)',
    };
  } finally {
    await release();
  }
}

/**
 * Refuses a Redis that may lose acknowledged writes in a crash, unless
 * `allowUnsafe` (`--allow-unsafe-redis`).
 * @throws DurabilityError naming what was found and `--allow-unsafe-redis`.
 */
export async function checkDurability(connection: FleetConnection, options: { allowUnsafe?: boolean } = {}): Promise<DurabilityReport> {
  const report = await inspectDurability(connection);
  if (!report.durable && !options.allowUnsafe) throw new DurabilityError(report.problem);
  return report;
}
