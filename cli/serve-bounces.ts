/**
 * `tclmail serve --bounces`: the capture server as the inbound host of the
 * bounce address. Each message is stored as always, then read back and run
 * through the bounce pipeline (cli/bounce-process.ts): parsed, tied to its
 * item (the VERP address it was delivered to names it), recorded in the
 * journal's sidecar or in Redis, hard bounces and complaints appended to the
 * suppression list, and one line per recipient entry printed, prefixed
 * `bounce`. Messages are processed one at a time, in arrival order.
 */
import { readFileSync } from 'node:fs';
import { line, stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import type { BounceTarget } from './bounce-record';
import { processBounce } from './bounce-process';
import { bounceTarget, checkVerp } from './commands/bounces';
import { REDIS_FLAGS } from './redis-url';
import type { CapturedMessage } from './serve';

export const BOUNCE_SERVE_FLAGS = {
  bounces: { type: 'boolean' },
  journal: { type: 'string' },
  campaign: { type: 'string' },
  suppress: { type: 'string' },
  verp: { type: 'string' },
  ...REDIS_FLAGS,
} as const;

export const BOUNCE_SERVE_HELP = `  --bounces         act as the inbound host of the bounce address: parse
                    each message as it arrives (it is still stored) and
                    print one "bounce ..." line per recipient entry
  --journal FILE    with --bounces: record bounces on this bulk journal's
                    items (in FILE.bounces; a running bulk does not block it)
  --redis URL --campaign NAME  with --bounces: record them in the fleet's
                    Redis instead (URL also from --redis-file or
                    TCLMAIL_REDIS_URL)
  --suppress FILE   with --bounces: append hard bounces and complaints
  --verp TEMPLATE   with --bounces: the run's VERP sender, e.g.
                    bounces+{id}@example.org (finds the item by the
                    address the bounce was delivered to)
`;

export interface BounceProcessor {
  describe: string;
  captured(message: CapturedMessage): void;
  close(): Promise<void>;
}

/** The processor the flags ask for; undefined without --bounces (and a usage error for its flags alone). */
export async function bounceProcessor(flags: Flags, io: Io): Promise<BounceProcessor | undefined> {
  const named = ['journal', 'campaign', 'suppress', 'verp', 'redis', 'redis-file'].filter((name) => flags[name] !== undefined);
  if (flags.bounces !== true) {
    if (named.length > 0) throw new UsageError(`--${named[0]} goes with --bounces`);
    return undefined;
  }
  const verp = stringFlag(flags, 'verp');
  const suppressFile = stringFlag(flags, 'suppress');
  if (suppressFile === '') throw new UsageError('--suppress expects a file');
  checkVerp(verp);
  const target: BounceTarget | undefined = await bounceTarget(flags, io, { journalMayFollow: true });
  let chain: Promise<void> = Promise.resolve();
  const where = stringFlag(flags, 'journal') ?? (stringFlag(flags, 'campaign') !== undefined ? `Redis campaign ${stringFlag(flags, 'campaign')}` : '');
  const describe = [where ? `recorded in ${where}` : 'printed only', suppressFile ? `suppressing into ${suppressFile}` : ''].filter(Boolean).join(', ');
  return {
    describe,
    captured(message) {
      chain = chain.then(async () => {
        try {
          const bytes = readFileSync(message.path);
          const done = await processBounce(bytes, message.path, message.to, { verp, json: false, target, suppressFile });
          for (const text of done.lines) line(io.stdout, `bounce\t${text}`);
        } catch (error) {
          line(io.stderr, `tclmail serve: bounce ${message.path}: ${(error as Error).message}`);
        }
      });
    },
    async close() {
      await chain;
      await target?.close();
    },
  };
}
