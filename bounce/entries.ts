/**
 * The recipient entries a report yields, each kind built in one place: an
 * entry of a delivery report (a DSN, an SES notice, a bounce in prose) and an
 * entry saying the message arrived (a feedback report, an auto-reply).
 */
import { isHard } from './reason';
import type { BounceRecipient } from './types';

/** What a delivery report says about one recipient. */
export type DeliveryFields = Pick<BounceRecipient, 'address' | 'action' | 'status' | 'replyCode' | 'diagnostic' | 'reason' | 'remoteMta'>;

/** A delivery report's entry: hard or soft follows from the reason and the status; only feedback reports have a feedback type. */
export function deliveryEntry(fields: DeliveryFields): BounceRecipient {
  const { address, action, status, replyCode, diagnostic, reason, remoteMta } = fields;
  return { address, action, status, replyCode, diagnostic, reason, hard: isHard(reason, status), remoteMta, feedbackType: '' };
}

/** An entry saying the message arrived: no status and no reply, never hard. */
export function arrivalEntry(address: string, reason: 'feedback' | 'vacation', diagnostic: string, feedbackType = ''): BounceRecipient {
  return { address, action: 'delivered', status: '', replyCode: null, diagnostic, reason, hard: false, remoteMta: '', feedbackType };
}

/** A feedback report's entry for one address (RFC 5965 Feedback-Type, lower case). */
export function feedbackEntry(address: string, feedbackType: string, diagnostic = ''): BounceRecipient {
  return arrivalEntry(address, 'feedback', diagnostic, feedbackType.toLowerCase());
}
