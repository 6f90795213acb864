/**
 * The bounce module: reading delivery status notifications, feedback reports
 * and auto-replies, and tying them back to the message they answer (VERP,
 * ENVID, Message-ID). See docs/bounces.md.
 *
 * ```ts
 * import { bounce } from 'tclmail';
 * const report = bounce.parse(fs.readFileSync('bounce.eml'), { verp: 'bounces+{id}@example.org' });
 * for (const r of report?.recipients ?? []) console.log(r.address, r.status, r.reason, r.hard);
 * ```
 */
export { parse, MAX_RECIPIENTS } from './parse';
export { verpAddress, verpItem } from './verp';
export { REASONS, HARD } from './vocabulary';
export type { Reason } from './vocabulary';
export type { Action, BounceRecipient, BounceReport, OriginalMessage, ParseOptions, ReportKind } from './types';
