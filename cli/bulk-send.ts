/**
 * The passes of `tclmail bulk` after validation: the sending pass (each valid
 * row rendered and handed to smtp.sendmany with its id, its digest and its one
 * recipient; the journal decides what is left to send), the dry-run pass
 * (each message written to a file instead), and the account pass, which reads
 * the list once more and asks the journal what became of each row, for the
 * lines on standard output, the report and the exit status. Nothing is kept
 * per row between passes but the id table and the journal's index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, MimeError } from '../lib/errors';
import * as mime from '../mime';
import * as smtp from '../smtp';
import type { FileLedger } from '../smtp/bulk/journal';
import { line, printable, UsageError } from './args';
import { csvLine, reportCell } from './csv';
import { previewName } from './bulk-list';
import type { ListChecker, Verdict } from './bulk-list';
import type { Progress } from './progress';
import { render } from './template';
import type { Template } from './template';
import { addUnsubscribe, isSuppressed, itemOptions } from './bulk-bounce';
import type { BulkBounce } from './bulk-bounce';

/** What became of a row, as the report and standard output say it. */
export interface RowResult {
  status: 'sent' | 'written' | 'refused' | 'failed' | 'uncertain' | 'invalid' | 'duplicate' | 'pending' | 'suppressed';
  code: string;
  diagnostic: string;
}

/** Counts of the account pass. */
export type Tally = Record<RowResult['status'], number>;

function isInputError(error: unknown): boolean {
  return error instanceof InvalidInputError || error instanceof MimeError;
}

/** A running sendmany, so that a signal can stop it and count what is in flight. */
export interface RunHandle {
  run: smtp.BulkRun | null;
}

/** The sending pass. Resolves when the run ends; rejects with the error that stopped it (journal, circuit breaker). */
export async function sendPass(
  checker: ListChecker,
  template: Template,
  ledger: FileLedger,
  options: smtp.SendManyOptions,
  progress: Progress,
  handle: RunHandle,
  skipInvalid: boolean,
  extras: BulkBounce = { suppressed: new Set() },
): Promise<void> {
  const tokens = new Map<string, mime.Token>();
  async function* source(): AsyncGenerator<smtp.BulkItem> {
    for (const verdict of checker.rows()) {
      if (verdict.kind === 'duplicate') continue;
      if (verdict.kind === 'invalid') {
        if (!skipInvalid) continue;
        const known = ledger.check(verdict.id, verdict.digest);
        if (!(known.match === 'same' && known.state === 'invalid') && known.match !== 'changed') await ledger.markInvalid(verdict.id, verdict.digest, verdict.address, verdict.reason);
        continue;
      }
      if (isSuppressed(extras, verdict.address)) {
        const known = ledger.check(verdict.id, verdict.digest);
        if (known.state === 'pending' || known.state === 'deferred') await ledger.markSuppressed(verdict.id, verdict.digest, verdict.address);
        if (known.state === 'pending' || known.state === 'deferred' || known.state === 'suppressed') continue;
      }
      let token: mime.Token;
      try {
        token = render(template, verdict.row.fields, verdict.address);
        addUnsubscribe(extras, token, verdict.id, verdict.address);
      } catch (error) {
        // A value the mime layer refuses fails this row only, recorded like any outcome.
        if (!isInputError(error)) throw error;
        const admission = await ledger.admit(verdict.id, verdict.digest, verdict.address);
        if (admission.state === 'pending' || admission.state === 'deferred') await ledger.markOutcome(verdict.id, { state: 'failed', code: null, diagnostic: (error as Error).message });
        progress.record('failed', false);
        continue;
      }
      tokens.set(verdict.id, token);
      yield { token, id: verdict.id, digest: verdict.digest, options: { recipients: [verdict.address], ...itemOptions(extras, verdict.id) } };
    }
  }
  const run = smtp.sendmany(source(), { ...options, journal: ledger });
  handle.run = run;
  try {
    for await (const outcome of run) {
      if (outcome.status !== 'duplicate') progress.record(outcome.status, outcome.journaled);
      const token = tokens.get(outcome.id);
      if (token) {
        tokens.delete(outcome.id);
        mime.finalize(token, { subordinates: 'all' });
      }
    }
  } finally {
    for (const token of tokens.values()) mime.finalize(token, { subordinates: 'all' });
    handle.run = null;
  }
}

/** The dry-run pass: each valid row's message written to `dir`, nothing sent; yields each row's result (a dry run keeps no journal). */
export function* dryRunPass(dir: string, checker: ListChecker, template: Template, progress: Progress): Generator<{ verdict: Verdict; result: RowResult }> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--dry-run ${dir}: ${(error as Error).message}`);
  }
  for (const verdict of checker.rows()) {
    if (verdict.kind !== 'valid') {
      yield { verdict, result: verdict.kind === 'duplicate' ? duplicateResult(verdict) : { status: 'invalid', code: '', diagnostic: verdict.reason } };
      continue;
    }
    let token: mime.Token | undefined;
    let result: RowResult;
    try {
      token = render(template, verdict.row.fields, verdict.address);
      const path = join(dir, previewName(verdict.id));
      writeFileSync(path, mime.buildmessage(token));
      result = { status: 'written', code: '', diagnostic: path };
      progress.record('sent', false);
    } catch (error) {
      if (!isInputError(error)) throw error;
      result = { status: 'failed', code: '', diagnostic: (error as Error).message };
      progress.record('failed', false);
    } finally {
      if (token) mime.finalize(token, { subordinates: 'all' });
    }
    yield { verdict, result };
  }
}

function duplicateResult(verdict: Extract<Verdict, { kind: 'duplicate' }>): RowResult {
  return { status: 'duplicate', code: '', diagnostic: `the same item as an earlier row of id ${verdict.id} (same values): sent once` };
}

/** What the journal says of one row. */
export function resultOf(verdict: Verdict, ledger: FileLedger): RowResult {
  if (verdict.kind === 'invalid') return { status: 'invalid', code: '', diagnostic: verdict.reason };
  if (verdict.kind === 'duplicate') return duplicateResult(verdict);
  const state = ledger.stateOf(verdict.id);
  const earlier = !ledger.writtenThisRun(verdict.id);
  switch (state) {
    case 'sent':
    case 'bounced':
      return { status: 'sent', code: '', diagnostic: earlier ? 'sent in an earlier run (journal)' : '' };
    case 'refused':
    case 'failed': {
      const record = ledger.lookupSync(verdict.id);
      const refused = record?.rejected?.[0];
      const code = refused ? String(refused[1]) : record?.code != null ? String(record.code) : (/^(\d{3})\b/.exec(record?.diagnostic ?? '')?.[1] ?? '');
      return { status: state, code, diagnostic: refused ? refused[2] : (record?.diagnostic ?? `${state} in an earlier run`) };
    }
    case 'suppressed':
      return { status: 'suppressed', code: '', diagnostic: 'on the suppression list: not sent' };
    case 'sending':
    case 'uncertain':
      return { status: 'uncertain', code: '', diagnostic: `the end of data went out${earlier ? ' in an earlier run' : ''} and no reply was recorded: the message may have been delivered (--resend-uncertain sends it again)` };
    default:
      return { status: 'pending', code: '', diagnostic: 'not sent: the run stopped before this row; run again with the same --journal to resume' };
  }
}

/** Writes the report (when asked) and the lines of rows not sent; returns the tally. */
export function account(
  rows: Iterable<{ verdict: Verdict; result: RowResult }>,
  stdout: NodeJS.WritableStream,
  report: { write(text: string): void } | null,
): Tally {
  const tally: Tally = { sent: 0, written: 0, refused: 0, failed: 0, uncertain: 0, invalid: 0, duplicate: 0, pending: 0, suppressed: 0 };
  report?.write(csvLine(['id', 'recipient', 'status', 'code', 'diagnostic']));
  for (const { verdict, result } of rows) {
    tally[result.status]++;
    report?.write(csvLine([verdict.id, verdict.address, result.status, result.code, result.diagnostic].map(reportCell)));
    if (result.status !== 'sent' && result.status !== 'written') {
      line(stdout as never, printable(`${result.status} ${verdict.id} ${verdict.address || '-'} ${result.code || '-'} ${result.diagnostic}`));
    }
  }
  return tally;
}
