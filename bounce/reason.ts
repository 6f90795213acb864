/**
 * The reason classifier: a recipient's reason from its diagnostic text and
 * its status code. Words first (the server's own sentence says most), then
 * what RFC 3463 assigns to the status detail, then the status class alone.
 */
import { HARD, PHRASES, STATUS_REASONS, type Reason } from './vocabulary';

/** Characters of diagnostic text the classifier reads. */
const MAX_CLASSIFIED = 8 * 1024;

/** Lower case, runs of white space as one space, capped. */
export function normaliseText(text: string): string {
  return text.slice(0, MAX_CLASSIFIED).toLowerCase().replace(/\s+/g, ' ');
}

/** The first reason whose phrase occurs in the (normalised) text, or null. */
function reasonFromText(text: string): Reason | null {
  return matchText(text)?.reason ?? null;
}

function matchText(text: string): { reason: Reason; phrase: string } | null {
  if (text === '') return null;
  for (const [reason, phrases] of PHRASES) {
    for (const phrase of phrases) if (text.includes(phrase)) return { reason, phrase };
  }
  return null;
}

/** What RFC 3463 says the status detail means, or null for X.0.0 and codes that say nothing specific. */
function reasonFromStatus(status: string): Reason | null {
  if (status === '') return null;
  const detail = status.slice(status.indexOf('.') + 1);
  return STATUS_REASONS.get(detail) ?? null;
}

/** Status details that name their reason more precisely than any wording can. */
const DECISIVE = new Set<string>(['1.2', '1.6', '2.2', '2.3', '3.4', '7.20', '7.21', '7.22', '7.23', '7.24', '7.25', '7.26', '7.29']);

/** Phrases too general to overrule a specific status code. */
const WEAK = new Set<string>(['recipient address rejected', 'recipient rejected', 'address rejected', 'not found', 'is not a valid', 'rejected your message', 'message rejected', 'not accepted', 'mailbox unavailable']);

/** Words saying the server refused only after the message's content (DATA), not at RCPT. */
const AFTER_DATA = ['after end of data', 'end of data command', 'after data:', 'our final data', 'in reply to data'];
/** Words saying the server refused the recipient at RCPT TO. */
const AT_RCPT = ['rcpt to', 'rcpt_to', 'in reply to rcpt', '>>> rcpt', 'recipient address rejected', 'after rcpt'];
/** Words saying the server refused the envelope sender (MAIL FROM). */
const AFTER_MAIL_FROM = ['after mail from', 'in reply to mail from', '>>> mail from'];

export interface Evidence {
  status: string;
  action: string;
  /** The remote server's words. */
  diagnostic: string;
  /** More of the report around the recipient, read when the diagnostic names nothing. */
  context?: string;
  /** Text that names the SMTP command the server answered, when it is not in the diagnostic. */
  stage?: string;
  /** The diagnostic comes from a local program (RFC 3464 type x-unix), not a server. */
  mailer?: boolean;
}

/** The reason of one recipient entry. */
export function classify(evidence: Evidence): Reason {
  const { status, action } = evidence;
  if (action === 'delivered' || action === 'relayed' || action === 'expanded' || status.startsWith('2.')) return 'delivered';
  const text = normaliseText(evidence.diagnostic);
  const byStatus = reasonFromStatus(status);
  if (byStatus !== null && DECISIVE.has(status.slice(2))) return byStatus;
  const match = matchText(text);
  if (byStatus !== null && match !== null && WEAK.has(match.phrase)) return byStatus;
  let byText = match?.reason ?? null;
  const stage = normaliseText(evidence.stage ?? evidence.diagnostic);
  // "Unknown user" said after DATA, or beside X.2.0 ("the mailbox exists", RFC 3463), is a filter's
  // refusal of this message, not a missing mailbox: the address stays deliverable.
  if (byText === 'userunknown' && !status.slice(2).startsWith('1.') && !AT_RCPT.some((w) => stage.includes(w))) {
    if (status.slice(2) === '2.0' || AFTER_DATA.some((w) => stage.includes(w))) byText = 'filtered';
  }
  // A local program's "no such user" speaks of its own configuration, not of the address.
  if (evidence.mailer && (byText === 'userunknown' || byText === 'filtered')) return 'mailererror';
  if (byText !== null) return byText;
  if (AFTER_MAIL_FROM.some((w) => stage.includes(w))) return 'rejected';
  if (byStatus !== null) return byStatus;
  if (action === 'delayed') return 'expired';
  const around = evidence.context ? reasonFromText(normaliseText(evidence.context)) : null;
  if (around !== null) return around;
  if (evidence.mailer) return 'mailererror';
  if (status.startsWith('5.7.') || status.startsWith('4.7.')) return 'securityerror';
  if (status.startsWith('5.6.') || status.startsWith('4.6.')) return 'contenterror';
  if (status.startsWith('4.')) return 'expired';
  return status.startsWith('5.') ? 'onhold' : 'undefined';
}

/** Whether retrying the address is pointless: a permanent failure for a hard reason. */
export function isHard(reason: string, status: string): boolean {
  return HARD.has(reason) && !status.startsWith('4.');
}
