/**
 * `tclmail bounces SOURCE...`: reads bounces, feedback reports and
 * auto-replies from Maildirs, mbox files, message files or standard input
 * and prints one line (or one JSON object) per recipient entry; with
 * `--suppress FILE`, appends hard bounces and complaints to a suppression list.
 */
import { statSync } from 'node:fs';
import { parse } from '../../bounce';
import type { BounceReport } from '../../bounce';
import { appendSuppression, type SuppressionEntry } from '../../smtp/bulk/suppression';
import { EXIT, line, parseFlags, printable, stringFlag, UsageError } from '../args';
import type { Command, Io } from '../args';
import { isMaildir, readSource } from '../mailbox';

const HELP = `Usage: tclmail bounces [--json] [--suppress FILE] [--verp TEMPLATE] SOURCE...

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
  -h, --help         show this help

Example:
  tclmail bounces ~/Maildir/.bounces --suppress suppress.csv
`;

/** One printed entry, as --json writes it. */
export interface BounceLine {
  source: string;
  kind: BounceReport['kind'];
  reportingMta: string;
  messageId: string;
  envid: string;
  item: string;
  address: string;
  action: string;
  status: string;
  replyCode: number | null;
  reason: string;
  hard: boolean;
  feedbackType: string;
  remoteMta: string;
  diagnostic: string;
}

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
  summary: 'read bounces and complaints; keep a suppression list',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags, args } = parseFlags(argv, { json: { type: 'boolean' }, suppress: { type: 'string' }, verp: { type: 'string' } }, { min: 1, max: Number.MAX_SAFE_INTEGER });
    const suppress = stringFlag(flags, 'suppress');
    const verp = stringFlag(flags, 'verp');
    if (args.filter((a) => a === '-').length > 1) throw new UsageError('standard input (-) may be named once');
    for (const source of args) checkSource(source);
    if (verp !== undefined) {
      try {
        parse('', { verp });
      } catch (error) {
        throw new UsageError(`--verp: ${(error as Error).message}`);
      }
    }
    const toSuppress: SuppressionEntry[] = [];
    let messages = 0;
    let reports = 0;
    let entries = 0;
    for (const source of args) {
      for await (const mail of readSource(source, io.stdin)) {
        messages += 1;
        const report = parse(mail.bytes, verp === undefined ? undefined : { verp });
        if (report === null) continue;
        reports += 1;
        for (const r of report.recipients) {
          entries += 1;
          const entry: BounceLine = {
            source: mail.source,
            kind: report.kind,
            reportingMta: report.reportingMta,
            messageId: report.original.messageId,
            envid: report.original.envid,
            item: report.original.item,
            address: r.address,
            action: r.action,
            status: r.status,
            replyCode: r.replyCode,
            reason: r.reason,
            hard: r.hard,
            feedbackType: r.feedbackType,
            remoteMta: r.remoteMta,
            diagnostic: r.diagnostic,
          };
          if (flags.json === true) line(io.stdout, JSON.stringify(entry));
          else {
            const cells = [mail.source, report.kind, r.address || '-', r.status || '-', r.reason, r.hard ? 'hard' : 'soft', r.diagnostic.replace(/\s+/g, ' ').slice(0, 200)];
            if (verp !== undefined) cells.splice(2, 0, report.original.item || '-');
            line(io.stdout, printable(cells.join('\t')));
          }
          if (r.address !== '' && (r.hard || report.kind === 'feedback')) {
            toSuppress.push({ address: r.address, reason: r.reason });
          }
        }
      }
    }
    let note = `${messages} message(s), ${reports} report(s), ${entries} recipient entr${entries === 1 ? 'y' : 'ies'}`;
    if (suppress !== undefined) {
      const added = appendSuppression(suppress, toSuppress);
      note += `; ${added.length} address(es) added to ${suppress}`;
    }
    line(io.stderr, printable(note));
    return EXIT.OK;
  },
};
