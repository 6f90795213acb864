/**
 * RFC 3464 delivery status notifications: the message/delivery-status part's
 * per-message fields and one per-recipient group per recipient, with RFC
 * 6533's utf-8 address type (message/global-delivery-status).
 */
import { addressIn, decodeUtf8Address, decodeXtext } from './addresses';
import { findReply, findStatus, normaliseStatus } from './codes';
import { readGroups, typedValue } from './groups';
import type { Fields } from './message';
import { deliveryEntry } from './entries';
import { classify } from './reason';
import type { Action, BounceRecipient } from './types';

const ACTIONS = new Set<Action>(['failed', 'delayed', 'delivered', 'relayed', 'expanded']);

/** What a delivery-status part says. */
export interface StatusReport {
  reportingMta: string;
  envid: string;
  recipients: BounceRecipient[];
  /** Addresses that may carry a VERP item id: Original-Recipient and X-Postfix-Sender. */
  candidates: string[];
}

function get(group: Fields, name: string): string {
  return group.get(name)?.[0] ?? '';
}

/** An address field (`type; address`): RFC 6533 utf-8 escapes or xtext undone, '' when none. */
function recipientAddress(raw: string): string {
  if (raw === '') return '';
  const { type, value } = typedValue(raw);
  if (type === 'utf-8') return addressIn(decodeUtf8Address(value)) || decodeUtf8Address(value);
  const plain = value.includes('+') && /\+[0-9A-F]{2}/.test(value) && !value.includes('@') ? decodeXtext(value) : value;
  return addressIn(plain) || addressIn(decodeXtext(plain));
}

/** The action as RFC 3464 spells it; anything else is read from the status class. */
function readAction(raw: string, status: string): Action {
  const word = raw.trim().toLowerCase().split(/[\s(]/)[0] as Action;
  if (ACTIONS.has(word)) return word;
  if (status.startsWith('2.')) return 'delivered';
  if (status.startsWith('4.')) return 'delayed';
  return 'failed';
}

/**
 * The status of a recipient: the Status field, unless it says only X.0.0 (or
 * nothing) and the diagnostic carries a more precise code of the same class.
 */
function bestStatus(field: string, diagnostic: string, reply: number | null): string {
  const given = normaliseStatus(field);
  const quoted = findStatus(diagnostic);
  if (given === '') return quoted !== '' ? quoted : reply !== null ? `${String(reply)[0]}.0.0` : '';
  if (quoted !== '' && quoted[0] === given[0] && given.endsWith('.0.0') && !quoted.endsWith('.0.0')) return quoted;
  return given;
}

/** Reads every recipient group of the delivery-status parts, in order. */
export function readStatusReports(texts: string[], context: string, limit: number): StatusReport {
  const report: StatusReport = { reportingMta: '', envid: '', recipients: [], candidates: [] };
  for (const text of texts) {
    for (const group of readGroups(text)) {
      if (report.recipients.length >= limit) return report;
      const final = get(group, 'final-recipient');
      const original = get(group, 'original-recipient');
      if (final === '' && original === '') {
        if (report.reportingMta === '') report.reportingMta = typedValue(get(group, 'reporting-mta')).value;
        if (report.envid === '') report.envid = decodeXtext(get(group, 'original-envelope-id'));
        report.candidates.push(recipientAddress(get(group, 'x-postfix-sender')));
        continue;
      }
      const diagnosticField = typedValue(get(group, 'diagnostic-code'));
      const diagnostic = diagnosticField.value;
      const reply = findReply(diagnostic);
      const status = bestStatus(get(group, 'status'), diagnostic, reply);
      const action = readAction(get(group, 'action'), status);
      const reason = classify({ status, action, diagnostic, context, stage: `${diagnostic} ${context}`, mailer: diagnosticField.type === 'x-unix' });
      report.candidates.push(recipientAddress(original));
      report.recipients.push(deliveryEntry({
        address: recipientAddress(final) || recipientAddress(original),
        action,
        status,
        replyCode: reply,
        diagnostic,
        reason,
        remoteMta: typedValue(get(group, 'remote-mta')).value,
      }));
    }
  }
  return report;
}
