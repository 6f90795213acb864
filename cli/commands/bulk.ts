/**
 * `tclmail bulk`: one template, many recipients, through `smtp.sendmany`.
 * Every row is checked before the first message goes out (a missing field is
 * a usage error naming it and the row); a row whose values the mime layer
 * refuses is reported failed and the run goes on. With --journal a run killed
 * at any moment can be started again: what has an outcome is skipped, what was
 * in flight at the kill is reported uncertain (see docs/bulk.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SmtpError } from '../../lib/errors';
import * as mime from '../../mime';
import * as smtp from '../../smtp';
import { EXIT, integerFlag, line, parseFlags, stringFlag, UsageError } from '../args';
import type { Command, Flags, Io } from '../args';
import { csvLine } from '../csv';
import { Progress } from '../progress';
import type { ProgressStyle } from '../progress';
import { readRecipients } from '../recipients';
import type { Recipient } from '../recipients';
import { missingFields, readTemplate, render } from '../template';
import type { Template } from '../template';
import { FLEET_HELP, fleetBulk, isFleetBulk } from './fleet-bulk';
import { isInputError, sendOptions, SENDING_FLAGS } from './send';

const HELP = `Usage: tclmail bulk TEMPLATE LIST [options]

Sends TEMPLATE to every recipient of LIST with smtp.sendmany: several
messages in flight on reused connections, at a steady pace, temporary
failures retried, and with --journal a run that can be resumed after a crash.

TEMPLATE  an .eml file, or a JSON description (.json):
          {"from": "...", "subject": "...", "text": "...", "html": "...",
           "attachments": ["file.pdf"], "headers": {"Reply-To": "..."}}
          {{field}} in a header value or a text body is replaced by the
          row's field (HTML-escaped in an HTML body). Without a To field,
          To is the recipient.
LIST      CSV with a header row (RFC 4180), or JSON Lines (.jsonl): one row
          per recipient, the address in an "email" (or "to") column, an
          optional "id" column (default: the row number) naming the row in
          the journal and the report.

Run:
  --concurrency N        messages in flight (default 5)
  --rate N               messages started per second (default: no limit)
  --retries N            tries again after a temporary failure (default 3)
  --retry-delay SECS     wait before the first retry (default 5)
  --journal FILE         write-ahead journal; run again with the same FILE
                         to resume: rows with an outcome are skipped, rows
                         in flight at a crash are reported uncertain
  --resend-uncertain     send those uncertain rows again (may duplicate)
  --dry-run DIR          write each recipient's message to DIR/ID.eml and
                         send nothing (no connection is made)
  --report FILE          write every row's outcome as CSV:
                         id,recipient,status,code,diagnostic
  --progress MODE        auto (default: a bar on a terminal, lines
                         otherwise), bar, lines or none

Sending (as for tclmail send):
  --servers A,B  --ports 25,587  --client NAME  --originator ADDR
  --starttls / --no-starttls  --ca FILE  --tlsimport  --maxsecs N  --debug
  --username USER with --password-file FILE or TCLMAIL_PASSWORD
  -h, --help             show this help

Output: one line per recipient not sent, on standard output:
  STATUS ID RECIPIENT CODE DIAGNOSTIC
Progress and the summary go to standard error.

Exit status: 0 every recipient sent; 1 some refused, failed or uncertain;
2 nothing sent; 64 usage error (nothing sent).

Examples:
  tclmail bulk notice.json people.csv --servers mail.example.com \\
      --concurrency 8 --rate 20 --journal notice.journal --report notice.csv
  tclmail bulk notice.eml people.jsonl --dry-run preview/
`;

const FLAGS = {
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  retries: { type: 'string' },
  'retry-delay': { type: 'string' },
  journal: { type: 'string' },
  'resend-uncertain': { type: 'boolean' },
  'dry-run': { type: 'string' },
  report: { type: 'string' },
  progress: { type: 'string' },
  ...SENDING_FLAGS,
} as const;

type Status = smtp.BulkOutcome['status'] | 'written';

/** One row of the report. */
interface Result {
  status: Status;
  code: string;
  diagnostic: string;
}

function positiveNumber(flags: Flags, name: string): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} expects a positive number, not ${JSON.stringify(text)}`);
  return Number(text);
}

function progressStyle(flags: Flags, io: Io): ProgressStyle {
  const mode = stringFlag(flags, 'progress') ?? 'auto';
  if (mode === 'auto') return (io.stderr as { isTTY?: boolean }).isTTY === true ? 'bar' : 'lines';
  if (mode === 'bar' || mode === 'lines' || mode === 'none') return mode;
  throw new UsageError(`--progress expects auto, bar, lines or none, not ${JSON.stringify(mode)}`);
}

/** Every row has a value for every placeholder: checked before anything is sent. */
function checkFields(template: Template, recipients: Recipient[], list: string): void {
  for (const r of recipients) {
    const missing = missingFields(template, r.fields);
    if (missing.length > 0) {
      throw new UsageError(`${list}: row ${r.row} (line ${r.line}, id ${r.id}) has no field ${JSON.stringify(missing[0])}, which the template uses as {{${missing[0]}}}`);
    }
  }
}

function failure(error: unknown): Result {
  return { status: 'failed', code: '', diagnostic: (error as Error)?.message ?? String(error) };
}

function resultOf(outcome: smtp.BulkOutcome): Result {
  const [refused] = outcome.rejected;
  const error = outcome.error as (Error & { replyCode?: number | null }) | null;
  let code = refused ? String(refused[1]) : error instanceof SmtpError && error.replyCode !== null ? String(error.replyCode) : '';
  if (code === '' && error) code = /^(\d{3})\b/.exec(error.message)?.[1] ?? '';
  const diagnostic = refused ? refused[2] : error ? error.message : outcome.journaled ? 'sent in an earlier run (journal)' : '';
  return { status: outcome.status, code, diagnostic };
}

function fileName(id: string, taken: Set<string>, row: number): string {
  const safe = id.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^\.+/, '_').slice(0, 100) || '_';
  const name = taken.has(safe) ? `${safe}-row${row}` : safe;
  taken.add(name);
  return `${name}.eml`;
}

function dryRun(dir: string, template: Template, recipients: Recipient[], results: Map<string, Result>, progress: Progress): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--dry-run ${dir}: ${(error as Error).message}`);
  }
  const taken = new Set<string>();
  for (const r of recipients) {
    let token;
    try {
      token = render(template, r.fields, r.email);
      const path = join(dir, fileName(r.id, taken, r.row));
      writeFileSync(path, mime.buildmessage(token));
      results.set(r.id, { status: 'written', code: '', diagnostic: path });
      progress.record('sent', false);
    } catch (error) {
      if (!isInputError(error)) throw error;
      results.set(r.id, failure(error));
      progress.record('failed', false);
    } finally {
      if (token) mime.finalize(token, { subordinates: 'all' });
    }
  }
}

async function send(options: smtp.SendManyOptions, template: Template, recipients: Recipient[], results: Map<string, Result>, progress: Progress): Promise<void> {
  const tokens = new Map<string, mime.Token>();
  function* source(): Generator<smtp.BulkItem> {
    for (const r of recipients) {
      let token: mime.Token;
      try {
        token = render(template, r.fields, r.email);
      } catch (error) {
        // A value the mime layer refuses (a line break in a header value) fails this row only.
        if (!isInputError(error)) throw error;
        results.set(r.id, failure(error));
        progress.record('failed', false);
        continue;
      }
      tokens.set(r.id, token);
      yield { token, id: r.id, options: { recipients: r.email } };
    }
  }
  try {
    for await (const outcome of smtp.sendmany(source(), options)) {
      results.set(outcome.id, resultOf(outcome));
      progress.record(outcome.status, outcome.journaled);
      const token = tokens.get(outcome.id);
      if (token) {
        tokens.delete(outcome.id);
        mime.finalize(token, { subordinates: 'all' });
      }
    }
  } finally {
    for (const token of tokens.values()) mime.finalize(token, { subordinates: 'all' });
  }
}

function writeReport(path: string, recipients: Recipient[], results: Map<string, Result>): void {
  const rows = [csvLine(['id', 'recipient', 'status', 'code', 'diagnostic'])];
  for (const r of recipients) {
    const result = results.get(r.id) ?? { status: 'not-sent', code: '', diagnostic: 'the run stopped before this row' };
    rows.push(csvLine([r.id, r.email, result.status, result.code, result.diagnostic]));
  }
  writeFileSync(path, rows.join(''));
}

export const bulk: Command = {
  name: 'bulk',
  summary: 'send a template to every row of a CSV or JSON Lines list (journal, dry run, report)',
  help: `${HELP}\n${FLEET_HELP}`,
  async run(argv: string[], io: Io): Promise<number> {
    if (isFleetBulk(argv)) return fleetBulk(argv, io);
    const { flags, args } = parseFlags(argv, FLAGS, { min: 0, max: 2 });
    if (args.length < 2) throw new UsageError('expected a template and a recipient list: tclmail bulk TEMPLATE LIST');
    const [templatePath, listPath] = args;
    const style = progressStyle(flags, io);
    const concurrency = integerFlag(flags, 'concurrency', 1, 1000);
    const retries = integerFlag(flags, 'retries', 0, 100);
    const rate = positiveNumber(flags, 'rate');
    const retryDelay = stringFlag(flags, 'retry-delay') === '0' ? 0 : positiveNumber(flags, 'retry-delay');
    const journal = stringFlag(flags, 'journal');
    const report = stringFlag(flags, 'report');
    const dir = stringFlag(flags, 'dry-run');
    if (journal === '' || report === '' || dir === '') throw new UsageError('--journal, --report and --dry-run expect a path');
    if (dir !== undefined && journal !== undefined) throw new UsageError('--dry-run sends nothing, so it takes no --journal');

    let template: Template;
    let options: smtp.SendMessageOptions;
    try {
      template = readTemplate(templatePath);
      options = sendOptions(flags, io, []);
    } catch (error) {
      if (isInputError(error)) throw new UsageError(`${templatePath}: ${(error as Error).message}`);
      throw error;
    }
    const recipients = readRecipients(listPath);
    checkFields(template, recipients, listPath);

    const results = new Map<string, Result>();
    const progress = new Progress(io.stderr, style, recipients.length);
    let fatal: unknown = null;
    try {
      if (dir !== undefined) {
        dryRun(dir, template, recipients, results, progress);
      } else {
        await send(
          {
            ...options,
            ...(concurrency !== undefined ? { concurrency } : {}),
            ...(rate !== undefined ? { rate } : {}),
            ...(retries !== undefined ? { retries } : {}),
            ...(retryDelay !== undefined ? { retryDelay } : {}),
            ...(journal !== undefined ? { journal } : {}),
            ...(flags['resend-uncertain'] === true ? { resendUncertain: true } : {}),
          },
          template,
          recipients,
          results,
          progress,
        );
      }
    } catch (error) {
      fatal = error;
    }
    progress.finish();
    for (const r of recipients) {
      const result = results.get(r.id);
      if (result && result.status !== 'sent' && result.status !== 'written') line(io.stdout, `${result.status} ${r.id} ${r.email} ${result.code || '-'} ${result.diagnostic}`);
    }
    if (report !== undefined) writeReport(report, recipients, results);
    if (fatal !== null) throw fatal;

    const done = [...results.values()].filter((r) => r.status === 'sent' || r.status === 'written').length;
    if (done === recipients.length) return EXIT.OK;
    return done === 0 ? EXIT.FAILED : EXIT.SOME_REFUSED;
  },
};
