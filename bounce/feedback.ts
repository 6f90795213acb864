/**
 * RFC 5965 feedback reports (ARF): a complaint, an opt-out, an
 * authentication failure report. One entry per Original-Rcpt-To, else one for
 * the recipient the returned message names.
 */
import { addressIn } from './addresses';
import { feedbackEntry } from './entries';
import { readGroups, typedValue } from './groups';
import { first, type Fields } from './message';
import type { BounceRecipient } from './types';

export interface FeedbackReport {
  reportingMta: string;
  recipients: BounceRecipient[];
}

/** Reads the message/feedback-report parts. */
export function readFeedback(texts: string[], original: Fields | null, limit: number): FeedbackReport {
  const report: FeedbackReport = { reportingMta: '', recipients: [] };
  for (const text of texts) {
    const fields: Fields = new Map();
    // The fields form one group, but some writers put empty lines between them.
    for (const group of readGroups(text)) {
      for (const [name, values] of group) fields.set(name, [...(fields.get(name) ?? []), ...values]);
    }
    const type = first(fields, 'feedback-type') || 'abuse';
    if (report.reportingMta === '') report.reportingMta = typedValue(first(fields, 'reporting-mta')).value;
    const rcpts = (fields.get('original-rcpt-to') ?? []).map(addressIn).filter((a) => a !== '');
    if (rcpts.length === 0) rcpts.push(addressIn(first(fields, 'removal-recipient')) || addressIn(first(original, 'to')));
    for (const address of rcpts) {
      if (report.recipients.length >= limit) return report;
      report.recipients.push(feedbackEntry(address, type));
    }
  }
  return report;
}
