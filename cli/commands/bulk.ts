/**
 * `tclmail bulk`: one template, many recipients, through `smtp.sendmany` and
 * a journal (the file ledger). The list is read as a stream: a validation
 * pass first (one mailbox per row, every value present, ids and digests),
 * which refuses the run before anything is sent if a row is invalid or the
 * journal knows an item with other content; then the sending pass; then an
 * account pass for the report and the exit status (docs/bulk.md, docs/cli.md).
 */
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as smtp from '../../smtp';
import { FileLedger, JournalError, openLedgerForStatus } from '../../smtp/bulk/journal';
import { ChangedItems, ChangedItemsError } from '../../smtp/bulk/ledger';
import { CircuitOpenError } from '../../smtp/bulk/breaker';
import { EXIT, integerFlag, line, parseFlags, stringFlag, UsageError } from '../args';
import type { Command, Flags, Io } from '../args';
import { ListChecker, templateSender } from '../bulk-list';
import type { Validation } from '../bulk-list';
import { account, dryRunPass, resultOf, sendPass } from '../bulk-send';
import type { RunHandle, Tally } from '../bulk-send';
import { showStatus } from '../bulk-status';
import { Progress } from '../progress';
import type { ProgressStyle } from '../progress';
import { readTemplate } from '../template';
import type { Template } from '../template';
import { FLEET_HELP, fleetBulk, isFleetBulk } from './fleet-bulk';
import { JournalView, serveDashboard, WEB_FLAGS, WEB_HELP, webRequest } from '../bulk-web';
import type { WebRequest } from '../bulk-web';
import { isInputError, sendOptions, SENDING_FLAGS } from './send';
import { BOUNCE_FLAGS, BOUNCE_HELP, bulkBounce, checkVerpIds } from '../bulk-bounce';

/** Exit statuses of bulk beyond the shared ones (BSD sysexits: 65 EX_DATAERR, 75 EX_TEMPFAIL). */
const BULK_EXIT = { DATA: 65, GAVE_UP: 75, SIGINT: 130, SIGTERM: 143 } as const;

const HELP = `Usage: tclmail bulk TEMPLATE LIST [options]
       tclmail bulk --status NAME --journal FILE [--json] [--follow] [--report FILE]
       tclmail bulk --status NAME --journal FILE --web [HOST:]PORT [--web-token]

Sends TEMPLATE to every row of LIST with smtp.sendmany: one message to one
recipient per row, several in flight on reused connections, at a steady
pace, temporary failures retried, every step in a journal so that a run
stopped at any moment is resumed by running it again.

TEMPLATE  an .eml file, or a JSON description (.json):
          {"from": "...", "subject": "...", "text": "...", "html": "...",
           "attachments": ["file.pdf"], "headers": {"Reply-To": "..."}}
          {{field}} in a header value or a text body is replaced by the
          row's field (HTML-escaped in an HTML body). Without a To field,
          To is the recipient.
LIST      CSV with a header row (RFC 4180), or JSON Lines (.jsonl). The
          address is in an "email" (or "to") column and must be exactly
          one mailbox. An optional "id" column names the row in the journal
          and the report; without it the id is a digest of the row, and
          identical rows are one item (reported once as a duplicate).

The list is checked whole before anything is sent. A row is invalid when
its address is empty, malformed, several addresses or a group, when a value
the template uses is missing or empty, or when a header value would hold a
line break. Invalid rows refuse the run (exit 65, the first 20 named).

Run:
  --concurrency N        messages in flight (default 5)
  --rate N               messages started per second (default: no limit)
  --retries N            tries again after a temporary failure (default 3)
  --retry-delay SECS     wait before the first retry (default 5)
  --journal FILE         the campaign's journal; run again with the same
                         FILE to resume: rows with an outcome are skipped,
                         rows in flight at a crash are reported uncertain
  --campaign NAME        the campaign's name in a new journal (default: the
                         journal's file name); an existing one must match
  --resend-uncertain     send those uncertain rows again (may duplicate)
  --accept-changed       the journal knows some ids with other content (an
                         edited list or template): record the new content
                         and go on (rows already sent are not sent again)
  --break-lock           take the journal's lock even though its owner
                         cannot be proven gone (check that no run uses it)
  --skip-invalid         send the valid rows; report the others "invalid"
  --allow-empty          send rows with an empty value for a placeholder
  --dry-run DIR          apply every check, write each message to DIR and
                         send nothing (no connection is made)
  --report FILE          write every row's outcome as CSV:
                         id,recipient,status,code,diagnostic
  --progress MODE        auto (default: a bar on a terminal, lines
                         otherwise), bar, lines or none
  --drain-secs SECS      on SIGINT/SIGTERM, how long messages in flight may
                         take to finish (default 30); a second signal stops
                         at once
  --give-up-after SECS   stop when no server took a connection for SECS
                         with nothing delivered (default 60; 0: never);
                         the rows not sent stay pending

${BOUNCE_HELP}
Status (reads the journal, takes no lock):
  --status NAME          the campaign's counts: total, one per state, done
  --json                 as one JSON object
  --follow               a progress line until every item is done
  --report FILE          with --status: every item of the journal as CSV
${WEB_HELP}  A file journal is written by its own run alone, so its page offers no
  actions: resend uncertain rows with TEMPLATE LIST --journal FILE
  --resend-uncertain; pause with Ctrl-C and resume by running again.

Sending (as for tclmail send):
  --servers A,B  --ports 25,587  --client NAME  --originator ADDR
  --starttls / --no-starttls  --ca FILE  --tlsimport  --maxsecs N  --debug
  --username USER with --password-file FILE or TCLMAIL_PASSWORD
  -h, --help             show this help

Output: one line per row not sent, on standard output:
  STATUS ID RECIPIENT CODE DIAGNOSTIC
Progress and the summary go to standard error.

Exit status: 0 every row sent; 1 some refused, failed, invalid or not sent
(none uncertain); 3 some uncertain; 2 nothing sent; 64 usage error; 65 the
list or the journal does not match (nothing sent); 75 gave up on a dead
relay (resumable); 130/143 interrupted by SIGINT/SIGTERM after a clean drain.

Examples:
  tclmail bulk notice.json people.csv --servers mail.example.com \\
      --concurrency 8 --rate 20 --journal notice.journal --report notice.csv
  tclmail bulk notice.eml people.jsonl --dry-run preview/
  tclmail bulk --status notice --journal notice.journal --json
`;

const FLAGS = {
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  retries: { type: 'string' },
  'retry-delay': { type: 'string' },
  journal: { type: 'string' },
  campaign: { type: 'string' },
  'resend-uncertain': { type: 'boolean' },
  'accept-changed': { type: 'boolean' },
  'break-lock': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' },
  'allow-empty': { type: 'boolean' },
  'dry-run': { type: 'string' },
  report: { type: 'string' },
  progress: { type: 'string' },
  'drain-secs': { type: 'string' },
  'give-up-after': { type: 'string' },
  status: { type: 'string' },
  json: { type: 'boolean' },
  follow: { type: 'boolean' },
  ...WEB_FLAGS,
  ...BOUNCE_FLAGS,
  ...SENDING_FLAGS,
} as const;

function positiveNumber(flags: Flags, name: string, allowZero = false): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || (!allowZero && Number(text) <= 0)) throw new UsageError(`--${name} expects a positive number, not ${JSON.stringify(text)}`);
  return Number(text);
}

function progressStyle(flags: Flags, io: Io): ProgressStyle {
  const mode = stringFlag(flags, 'progress') ?? 'auto';
  if (mode === 'auto') return (io.stderr as { isTTY?: boolean }).isTTY === true ? 'bar' : 'lines';
  if (mode === 'bar' || mode === 'lines' || mode === 'none') return mode;
  throw new UsageError(`--progress expects auto, bar, lines or none, not ${JSON.stringify(mode)}`);
}

/** A report file written row by row under a temporary name, put in place once whole: a killed run leaves no half report. */
function reportFile(path: string | undefined): { write(text: string): void; close(): void } | null {
  if (path === undefined) return null;
  const partial = `${path}.partial`;
  let fd: number;
  try {
    fd = openSync(partial, 'w');
  } catch (error) {
    throw new UsageError(`--report ${path}: ${(error as Error).message}`);
  }
  let written = false;
  return {
    write: (text) => {
      written = true;
      writeSync(fd, text);
    },
    close: () => {
      closeSync(fd);
      if (written) renameSync(partial, path);
      else rmSync(partial, { force: true });
    },
  };
}

/** The exit status from the tally: uncertain wins, then nothing sent, then anything not sent. */
function exitStatus(tally: Tally): number {
  if (tally.uncertain > 0) return EXIT.UNCERTAIN;
  // Suppressed rows were never to be sent: they change nothing.
  if (tally.sent + tally.written === 0 && tally.refused + tally.failed + tally.invalid + tally.pending > 0) return EXIT.FAILED;
  if (tally.sent + tally.written === 0 && tally.suppressed === 0) return EXIT.FAILED;
  if (tally.refused + tally.failed + tally.invalid + tally.pending > 0) return EXIT.SOME_REFUSED;
  return EXIT.OK;
}

function refuseInvalid(io: Io, list: string, validation: Validation): number {
  line(io.stderr, `tclmail bulk: ${list}: ${validation.invalid} invalid row${validation.invalid === 1 ? '' : 's'}; nothing was sent:`);
  for (const text of validation.firstInvalid) line(io.stderr, `  ${text}`);
  if (validation.invalid > validation.firstInvalid.length) line(io.stderr, `  and ${validation.invalid - validation.firstInvalid.length} more`);
  line(io.stderr, 'Correct the list, or send the valid rows with --skip-invalid.');
  return BULK_EXIT.DATA;
}

/** The changed-item check: only needed when the list differs from the one the journal's manifest names. */
function changedItems(checker: ListChecker, ledger: FileLedger): ChangedItems {
  const changed = new ChangedItems();
  for (const verdict of checker.rows()) {
    if (verdict.kind !== 'valid') continue;
    const known = ledger.check(verdict.id, verdict.digest);
    if (known.match === 'changed' && known.state !== 'invalid') changed.add(verdict.id);
  }
  return changed;
}

async function status(flags: Flags, args: string[], io: Io): Promise<number> {
  const name = stringFlag(flags, 'status')!;
  const journal = stringFlag(flags, 'journal');
  if (args.length > 0) throw new UsageError('--status takes no template or list');
  if (name === '') throw new UsageError('--status expects the campaign name');
  if (journal === undefined || journal === '') throw new UsageError('--status needs --journal FILE');
  const web = webRequest(flags);
  if (web?.allowActions === true) {
    throw new UsageError(
      'a file journal is written only by its own tclmail bulk run, so the page has no actions to offer: send uncertain rows again with tclmail bulk TEMPLATE LIST --journal FILE --resend-uncertain; pause a run with Ctrl-C and resume it by running it again. Drop --allow-actions',
    );
  }
  try {
    if (web !== undefined) return await dashboard(name, journal, web, io);
    return await showStatus(() => openLedgerForStatus(journal), { campaign: name, json: flags.json === true, follow: flags.follow === true, report: stringFlag(flags, 'report') }, io);
  } catch (error) {
    if (error instanceof JournalError) throw new UsageError(error.message);
    throw error;
  }
}

/** `--status NAME --journal FILE --web`: the dashboard, read-only, until a signal. */
async function dashboard(name: string, journal: string, web: WebRequest, io: Io): Promise<number> {
  const view = await JournalView.open(journal);
  try {
    if (view.campaign !== name) throw new UsageError(`the journal holds the campaign ${JSON.stringify(view.campaign)}, not ${JSON.stringify(name)}`);
    return await serveDashboard(view, web, undefined, io);
  } finally {
    await view.close();
  }
}

/** Signals during the sending pass: the first drains, a second (or the end of --drain-secs) stops at once. */
function onSignals(io: Io, handle: RunHandle, drainSecs: number, hardStop: (signal: NodeJS.Signals) => void): { received: () => NodeJS.Signals | null; remove: () => void } {
  let received: NodeJS.Signals | null = null;
  let timer: NodeJS.Timeout | undefined;
  const listener = (signal: NodeJS.Signals): void => {
    if (received !== null) {
      hardStop(signal);
      return;
    }
    received = signal;
    const inFlight = handle.run?.progress.inFlight ?? 0;
    line(io.stderr, `\n${signal}: no new messages; waiting up to ${drainSecs} s for ${inFlight} in flight (send the signal again to stop at once)`);
    handle.run?.stop();
    timer = setTimeout(() => hardStop(signal), drainSecs * 1000);
    timer.unref();
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return {
    received: () => received,
    remove: () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', listener);
      process.off('SIGTERM', listener);
    },
  };
}

export const bulk: Command = {
  name: 'bulk',
  help: `${HELP}\n${FLEET_HELP}`,
  async run(argv: string[], io: Io): Promise<number> {
    if (isFleetBulk(argv, io.env)) return fleetBulk(argv, io);
    const { flags, args } = parseFlags(argv, FLAGS, { min: 0, max: 2 });
    if (flags.status !== undefined) return status(flags, args, io);
    if (args.length < 2) throw new UsageError('expected a template and a recipient list: tclmail bulk TEMPLATE LIST');
    const [templatePath, listPath] = args;
    const style = progressStyle(flags, io);
    const concurrency = integerFlag(flags, 'concurrency', 1, 1000);
    const retries = integerFlag(flags, 'retries', 0, 100);
    const rate = positiveNumber(flags, 'rate');
    const retryDelay = positiveNumber(flags, 'retry-delay', true);
    const drainSecs = positiveNumber(flags, 'drain-secs', true) ?? 30;
    const giveUpAfter = positiveNumber(flags, 'give-up-after', true) ?? 60;
    const journalPath = stringFlag(flags, 'journal');
    const report = stringFlag(flags, 'report');
    const dir = stringFlag(flags, 'dry-run');
    const campaign = stringFlag(flags, 'campaign');
    if (journalPath === '' || report === '' || dir === '' || campaign === '') throw new UsageError('--journal, --report, --dry-run and --campaign expect a value');
    if (dir !== undefined && journalPath !== undefined) throw new UsageError('--dry-run sends nothing, so it takes no --journal');
    if (flags.json === true || flags.follow === true) throw new UsageError('--json and --follow go with --status');
    if (flags.web !== undefined || flags['web-token'] === true || flags['allow-actions'] === true) throw new UsageError('--web, --web-token and --allow-actions go with --status NAME');

    let template: Template;
    let options: smtp.SendMessageOptions;
    try {
      template = readTemplate(templatePath);
      options = sendOptions(flags, io, []);
    } catch (error) {
      if (isInputError(error)) throw new UsageError(`${templatePath}: ${(error as Error).message}`);
      throw error;
    }
    const skipInvalid = flags['skip-invalid'] === true;
    const originator = typeof options.originator === 'string' ? options.originator : undefined;
    const checker = new ListChecker({ path: listPath, template, templatePath, sender: originator ?? templateSender(template), allowEmpty: flags['allow-empty'] === true });
    const extras = bulkBounce(flags);
    const validation = checker.validate();
    if (validation.invalid > 0 && !skipInvalid) return refuseInvalid(io, listPath, validation);
    if (!checkVerpIds(checker, extras, io, listPath)) return BULK_EXIT.DATA;

    const progress = new Progress(io.stderr, style, validation.valid);
    if (dir !== undefined) progress.verb = 'written';
    const out = reportFile(report);
    try {
      if (dir !== undefined) {
        const tally = account(dryRunPass(dir, checker, template, progress), io.stdout, out);
        progress.finish();
        return exitStatus(tally);
      }
      return await sendAndAccount();
    } finally {
      out?.close();
    }

    async function sendAndAccount(): Promise<number> {
      // Without --journal the run still keeps one, in a temporary folder: it is what the account pass reads.
      const scratch = journalPath === undefined ? mkdtempSync(join(tmpdir(), 'tclmail-bulk-')) : null;
      const file = journalPath ?? join(scratch!, 'run.jsonl');
      // The list as validated, for the manifest of a new journal or an amended one.
      const list = { listDigest: validation.listDigest, total: validation.total, ...(validation.domains ? { domains: validation.domains } : {}) };
      let ledger: FileLedger;
      try {
        ledger = await FileLedger.open(file, { campaign, list, breakLock: flags['break-lock'] === true });
      } catch (error) {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
        const reason = (error as { reason?: string }).reason;
        if (error instanceof JournalError && (reason === 'damaged' || reason === 'campaign')) {
          line(io.stderr, `tclmail bulk: ${error.message}`);
          return BULK_EXIT.DATA;
        }
        throw error;
      }
      const handle: RunHandle = { run: null };
      const hardStop = (signal: NodeJS.Signals): void => {
        const inFlight = handle.run?.progress.inFlight ?? 0;
        line(io.stderr, `${signal}: stopped at once; ${inFlight} message${inFlight === 1 ? '' : 's'} in flight ${inFlight > 0 ? 'will be reported uncertain on the resume' : ''}`.trimEnd());
        ledger.releaseLockSync();
        if (scratch) rmSync(scratch, { recursive: true, force: true });
        process.exit(inFlight > 0 ? EXIT.UNCERTAIN : signal === 'SIGINT' ? BULK_EXIT.SIGINT : BULK_EXIT.SIGTERM);
      };
      const signals = onSignals(io, handle, drainSecs, hardStop);
      let fatal: unknown = null;
      try {
        if (ledger.manifest.listDigest !== validation.listDigest) {
          const changed = changedItems(checker, ledger);
          if (changed.count > 0 && flags['accept-changed'] !== true) {
            line(io.stderr, `tclmail bulk: ${new ChangedItemsError(ledger.campaign, changed.ids, changed.count).message}`);
            return BULK_EXIT.DATA;
          }
          await ledger.amendManifest(list);
        } else if (ledger.manifest.domains === undefined && validation.domains) {
          // A journal begun before runs recorded their domains: the dashboard learns the rows not reached yet.
          await ledger.amendManifest(list);
        }
        try {
          await sendPass(
            checker,
            template,
            ledger,
            {
              ...options,
              ...(concurrency !== undefined ? { concurrency } : {}),
              ...(rate !== undefined ? { rate } : {}),
              ...(retries !== undefined ? { retries } : {}),
              ...(retryDelay !== undefined ? { retryDelay } : {}),
              resendUncertain: flags['resend-uncertain'] === true,
              acceptChanged: flags['accept-changed'] === true,
              giveUpAfter,
            },
            progress,
            handle,
            skipInvalid,
            extras,
          );
        } catch (error) {
          fatal = error;
        }
        progress.finish();
        const tally = account(
          (function* () {
            for (const verdict of checker.rows()) yield { verdict, result: resultOf(verdict, ledger) };
          })(),
          io.stdout,
          out,
        );
        const signal = signals.received();
        if (fatal instanceof CircuitOpenError) {
          line(io.stderr, `tclmail bulk: ${fatal.message}`);
          return BULK_EXIT.GAVE_UP;
        }
        if (fatal instanceof ChangedItemsError) {
          line(io.stderr, `tclmail bulk: ${fatal.message}`);
          return BULK_EXIT.DATA;
        }
        if (fatal !== null) throw fatal;
        if (signal !== null) {
          line(io.stderr, `${signal}: stopped cleanly; ${tally.pending} row${tally.pending === 1 ? '' : 's'} not sent stay pending: run again with the same --journal to resume`);
          return signal === 'SIGINT' ? BULK_EXIT.SIGINT : BULK_EXIT.SIGTERM;
        }
        return exitStatus(tally);
      } finally {
        signals.remove();
        await ledger.close();
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
    }
  },
};
