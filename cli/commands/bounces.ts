/**
 * `tclmail bounces SOURCE...`: reads bounces, feedback reports and
 * auto-replies from Maildirs, mbox files, message files or standard input
 * and prints one line (or one JSON object) per recipient entry; with
 * `--suppress FILE`, appends hard bounces and complaints to a suppression list.
 */
import { statSync } from 'node:fs';
import { parse } from '../../bounce';
import { EXIT, line, parseFlags, printable, stringFlag, UsageError } from '../args';
import type { Command, Flags, Io } from '../args';
import { fileTarget, redisTarget } from '../bounce-record';
import type { BounceTarget } from '../bounce-record';
import { processBounce } from '../bounce-process';
import { isMaildir, readSource } from '../mailbox';
import { REDIS_FLAGS, redisTarget as redisUrl } from '../redis-url';

const HELP = `Usage: tclmail bounces [--json] [--suppress FILE] [--verp TEMPLATE]
                       [--journal FILE | --redis URL --campaign NAME] SOURCE...

Reads delivery status notifications (RFC 3464), feedback reports (RFC 5965),
auto-replies (RFC 3834) and the prose bounces of common MTAs, and prints one
line per recipient entry:

  SOURCE  KIND  ADDRESS  STATUS  REASON  hard|soft  DIAGNOSTIC

Ordinary mail prints nothing. A SOURCE is a Maildir (its cur/ and new/), an
mbox file, a message file, or - for standard input (one message or an mbox).

Options:
  --json             one JSON object per recipient entry instead
  --suppress FILE    append hard bounces and complaints to this suppression
                     list (CSV address,reason,date; created when missing; an
                     address already listed is not added again)
  --verp TEMPLATE    the VERP envelope sender of the run, e.g.
                     bounces+{id}@example.org: prints the item id of each bounce
  --journal FILE     record each bounce on its item in this bulk journal
                     (written beside it, to FILE.bounces: a running bulk
                     does not block it); the item becomes "bounced"
  --redis URL        record each bounce on its item in the fleet's Redis
  --redis-file FILE  (or TCLMAIL_REDIS_URL) with --campaign NAME; with
  --campaign NAME    --suppress, addresses also go to Redis's suppression set
                     An item is found by its VERP id, its ENVID, then its
                     Message-ID; only an item that was sent becomes bounced,
                     and a hard bounce is never undone by a later report.
                     The recording (bounced, kept, cleared, unchanged,
                     not-sent, unknown) is printed after hard|soft.
  -h, --help         show this help

Examples:
  tclmail bounces ~/Maildir/.bounces --suppress suppress.csv
  tclmail bounces ~/Maildir/.bounces --verp 'bounces+{id}@example.org' \\
      --journal notice.journal --suppress suppress.csv
`;

export type { BounceLine } from '../bounce-process';

function checkSource(source: string): void {
  if (source === '-') return;
  let stat;
  try {
    stat = statSync(source);
  } catch {
    throw new UsageError(`${source}: no such file or directory`);
  }
  if (stat.isDirectory() && !isMaildir(source)) throw new UsageError(`${source}: a directory must be a Maildir (with cur/ or new/)`);
}

export const bounces: Command = {
  name: 'bounces',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags, args } = parseFlags(
      argv,
      { json: { type: 'boolean' }, suppress: { type: 'string' }, verp: { type: 'string' }, journal: { type: 'string' }, campaign: { type: 'string' }, ...REDIS_FLAGS },
      { min: 1, max: Number.MAX_SAFE_INTEGER },
    );
    const suppress = stringFlag(flags, 'suppress');
    const verp = stringFlag(flags, 'verp');
    if (args.filter((a) => a === '-').length > 1) throw new UsageError('standard input (-) may be named once');
    for (const source of args) checkSource(source);
    checkVerp(verp);
    const target = await bounceTarget(flags, io);
    let messages = 0;
    let reports = 0;
    let entries = 0;
    let added = 0;
    try {
      for (const source of args) {
        for await (const mail of readSource(source, io.stdin)) {
          messages += 1;
          const done = await processBounce(mail.bytes, mail.source, [], { verp, json: flags.json === true, target, suppressFile: suppress });
          if (done.report === null) continue;
          reports += 1;
          entries += done.report.recipients.length;
          added += done.suppressed.length;
          for (const text of done.lines) line(io.stdout, text);
        }
      }
    } finally {
      await target?.close();
    }
    let note = `${messages} message(s), ${reports} report(s), ${entries} recipient entr${entries === 1 ? 'y' : 'ies'}`;
    if (suppress !== undefined) note += `; ${added} address(es) added to ${suppress}`;
    line(io.stderr, printable(note));
    return EXIT.OK;
  },
};

/** Checks a --verp template before any message is read. */
export function checkVerp(verp: string | undefined): void {
  if (verp === undefined) return;
  try {
    parse('', { verp });
  } catch (error) {
    throw new UsageError(`--verp: ${(error as Error).message}`);
  }
}

/** Where --journal or --redis/--campaign say to record bounces (none without them). */
export async function bounceTarget(flags: Flags, io: Io, options: { journalMayFollow?: boolean } = {}): Promise<BounceTarget | undefined> {
  const journal = stringFlag(flags, 'journal');
  const campaign = stringFlag(flags, 'campaign');
  const redisNamed = flags.redis !== undefined || flags['redis-file'] !== undefined;
  if (journal !== undefined && (redisNamed || campaign !== undefined)) throw new UsageError('record bounces in --journal FILE or in --redis URL --campaign NAME, not both');
  if (journal !== undefined) {
    if (journal === '') throw new UsageError('--journal expects a file');
    if (!options.journalMayFollow && !existsFile(journal)) throw new UsageError(`--journal ${journal}: no such journal (bounces are recorded on the items of an existing campaign)`);
    return fileTarget(journal);
  }
  if (campaign === undefined) {
    if (redisNamed) throw new UsageError('--redis needs --campaign NAME: the campaign whose items the bounces belong to');
    return undefined;
  }
  return redisTarget(redisUrl(flags, io).url, campaign);
}

function existsFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
