/**
 * One message through the bounce pipeline: parse, tie to an item and record
 * (when a journal or a Redis campaign is named), collect what to suppress,
 * and describe each recipient entry as a line (or a JSON object). Shared by
 * `tclmail bounces` and `tclmail serve --bounces`.
 */
import { parse, verpItem } from '../bounce';
import type { BounceReport } from '../bounce';
import { appendSuppression } from '../smtp/bulk/suppression';
import type { SuppressionEntry } from '../smtp/bulk/suppression';
import { printable } from './args';
import type { BounceTarget, Recorded } from './bounce-record';

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
  /** With --journal or --redis: what recording did (`bounced`, `kept`, `cleared`, `unchanged`, `not-sent`, `unknown`). */
  recorded?: string;
}

export interface ProcessOptions {
  verp?: string;
  json: boolean;
  target?: BounceTarget;
  /** The suppression list file, appended to at once for each message. */
  suppressFile?: string;
}

export interface Processed {
  report: BounceReport | null;
  lines: string[];
  suppressed: SuppressionEntry[];
}

/**
 * Runs one message through. `envelope` are the recipients the message was
 * delivered to (the capture server knows them): a VERP address among them
 * names the item even when the report quotes nothing.
 */
export async function processBounce(bytes: Buffer, source: string, envelope: readonly string[], options: ProcessOptions): Promise<Processed> {
  const report = parse(bytes, options.verp === undefined ? undefined : { verp: options.verp });
  if (report === null) return { report, lines: [], suppressed: [] };
  const envelopeItem = options.verp !== undefined ? verpItem(options.verp, envelope) : '';
  const recorded: Recorded[] | undefined = options.target ? await options.target.record(report, envelopeItem) : undefined;
  const lines: string[] = [];
  const toSuppress: SuppressionEntry[] = [];
  report.recipients.forEach((r, i) => {
    const rec = recorded?.[i];
    const item = rec?.item || envelopeItem || report.original.item;
    if (options.json) {
      const entry: BounceLine = {
        source,
        kind: report.kind,
        reportingMta: report.reportingMta,
        messageId: report.original.messageId,
        envid: report.original.envid,
        item,
        address: r.address,
        action: r.action,
        status: r.status,
        replyCode: r.replyCode,
        reason: r.reason,
        hard: r.hard,
        feedbackType: r.feedbackType,
        remoteMta: r.remoteMta,
        diagnostic: r.diagnostic,
        ...(rec ? { recorded: rec.result } : {}),
      };
      lines.push(JSON.stringify(entry));
    } else {
      const cells = [source, report.kind, r.address || '-', r.status || '-', r.reason, r.hard ? 'hard' : 'soft'];
      if (options.verp !== undefined || rec) cells.splice(2, 0, item || '-');
      if (rec) cells.push(rec.result);
      cells.push(r.diagnostic.replace(/\s+/g, ' ').slice(0, 200));
      lines.push(printable(cells.join('\t')));
    }
    if (r.address !== '' && (r.hard || report.kind === 'feedback')) toSuppress.push({ address: r.address, reason: r.reason });
  });
  let suppressed: SuppressionEntry[] = [];
  if (options.suppressFile !== undefined && toSuppress.length > 0) {
    suppressed = appendSuppression(options.suppressFile, toSuppress);
    await options.target?.suppress(toSuppress.map((e) => e.address));
  }
  return { report, lines, suppressed };
}
