/**
 * Amazon SES notifications delivered by mail (through SNS): a JSON object
 * with `notificationType` Bounce, Complaint or Delivery in the body.
 */
import { findReply, findStatus, normaliseStatus } from './codes';
import { deliveryEntry, feedbackEntry } from './entries';
import { classify } from './reason';
import type { BounceReport, BounceRecipient } from './types';

/** Characters of JSON read at most. */
const MAX_JSON = 256 * 1024;

type Json = Record<string, unknown>;

function object(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.map(object) : [];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The notification in text, or null when the text holds none. */
function notification(body: string): Json | null {
  const at = body.indexOf('{"');
  if (at < 0 || !body.includes('"notificationType"', at) && !body.includes('"eventType"', at)) return null;
  // SNS folds long lines as `!` + line break + space; undo that before reading.
  const raw = body.slice(at, at + MAX_JSON).replace(/!\r?\n /g, '');
  const end = raw.lastIndexOf('}');
  if (end < 0) return null;
  try {
    return object(JSON.parse(raw.slice(0, end + 1)));
  } catch {
    return null;
  }
}

/** Reads an SES notification, or null when the text is none. */
export function readSes(body: string, limit: number): BounceReport | null {
  const note = notification(body);
  if (note === null) return null;
  const type = text(note.notificationType) || text(note.eventType);
  const mail = object(note.mail);
  const original = { messageId: text(mail.messageId), envid: '', item: '' };
  const recipients: BounceRecipient[] = [];
  if (type === 'Complaint') {
    const complaint = object(note.complaint);
    for (const r of list(complaint.complainedRecipients).slice(0, limit)) {
      recipients.push(feedbackEntry(text(r.emailAddress), text(complaint.complaintFeedbackType) || 'abuse'));
    }
    return { kind: 'feedback', reportingMta: '', original, recipients };
  }
  if (type === 'Bounce' || type === 'Delivery') {
    const bounce = object(type === 'Bounce' ? note.bounce : note.delivery);
    const permanent = text(bounce.bounceType) === 'Permanent';
    const entries = type === 'Bounce' ? list(bounce.bouncedRecipients) : (Array.isArray(bounce.recipients) ? bounce.recipients : []).map((r): Json => ({ emailAddress: r }));
    for (const r of entries.slice(0, limit)) {
      const diagnostic = text(r.diagnosticCode) || text(bounce.smtpResponse);
      const reply = findReply(diagnostic);
      let status = normaliseStatus(text(r.status)) || findStatus(diagnostic);
      if (type === 'Delivery') status = status || '2.0.0';
      else if (status === '') status = permanent ? '5.0.0' : '4.0.0';
      const action = type === 'Delivery' ? 'delivered' : permanent ? 'failed' : 'delayed';
      const reason = classify({ status, action, diagnostic: `${diagnostic} ${text(bounce.bounceSubType)}` });
      recipients.push(deliveryEntry({ address: text(r.emailAddress), action, status, replyCode: reply, diagnostic, reason, remoteMta: text(bounce.remoteMtaIp) }));
    }
    return { kind: 'dsn', reportingMta: text(bounce.reportingMTA), original, recipients };
  }
  return null;
}
