/**
 * Bounces written as prose (no message/delivery-status part): the text is
 * cut where the returned message starts, each failed recipient is found on
 * the line that announces it, and its diagnostic is the paragraph that
 * follows. Status and reply codes come from that paragraph; without them the
 * status class comes from the report's own words.
 */
import { findAddresses, isDaemon } from './addresses';
import { findReply, findStatus } from './codes';
import { DELAY_WORDS, NOT_RECIPIENT_LINES, ORIGINAL_FIELDS, ORIGINAL_MARKERS, PERMANENT_WORDS } from './layouts';
import { headerText, type Fields } from './message';
import { deliveryEntry } from './entries';
import { classify, normaliseText } from './reason';
import type { Action, BounceRecipient } from './types';

/** Lines of report text read at most. */
const MAX_LINES = 5000;
/** Characters of one diagnostic kept. */
const MAX_DIAGNOSTIC = 1024;

/** The report's own text and the returned message's header, when it was written inline. */
export function splitOriginal(text: string): { report: string; original: Fields | null } {
  let start = 0;
  let blank = true;
  let lines = 0;
  while (start < text.length && lines < MAX_LINES) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, Math.min(end, start + 200));
    const bare = line.replace(/^[\s\-=_*#>|]+/, '').toLowerCase();
    // A marker is set off by dashes or the like, or is a short line ending in a colon.
    const short = bare.trimEnd();
    const decorated = line.trimStart().length > bare.length || (short.length < 60 && (short.endsWith(':') || short.endsWith('.') || ORIGINAL_MARKERS.includes(short)));
    const marker = bare !== '' && decorated && ORIGINAL_MARKERS.some((m) => bare.startsWith(m));
    const field = blank && ORIGINAL_FIELDS.some((f) => bare.startsWith(f)) && !line.startsWith(' ');
    if (marker || (field && lines > 0) || (bare.startsWith('content-type: message/rfc822'))) {
      const rest = text.slice(field ? start : end + 1);
      return { report: text.slice(0, start), original: headerText(rest.replace(/^\s*\n/, '')) };
    }
    blank = line.trim() === '';
    start = end + 1;
    lines += 1;
  }
  return { report: text, original: null };
}

interface Mention {
  address: string;
  line: number;
  /** The rest of the announcing line, after the address. */
  after: string;
}

/** Characters that may stand before an announced address at the start of a line. */
function leadOf(line: string, index: number): string {
  return line.slice(0, index).trim();
}

/** Whether the text before an address on its line makes it an announcement. */
/** Words a line may end with just before the failed address: "... delivering your mail to <a@b>". */
const LEAD_ENDINGS = [':', ' to', 'address', 'recipient', 'recipients', 'recipient(s)', 'addressee', 'mailbox', 'rcpt to'];

function announces(lead: string): boolean {
  if (lead === '' || /^[<(["'>*:-]{1,4}$/.test(lead)) return true;
  let end = lead.length;
  while (end > 0 && ' \t<("\'['.includes(lead[end - 1])) end -= 1;
  const low = lead.slice(0, end).toLowerCase();
  if (LEAD_ENDINGS.some((e) => low.endsWith(e))) return true;
  if (low.endsWith('rcpt to:<') || low.endsWith('rcpt to: <') || low.endsWith('rcpt to:')) return true;
  if (low === 'to:' || low === 'to: <' || low === 'recipient:' || low === 'recipient address:' || low === 'original-recipient:' || low === 'final-recipient:') return true;
  if (low.endsWith('rfc822;') || low.endsWith('rfc822; <')) return true;
  // "550 5.1.1 <a@b>..." and "<<< 550 <a@b>": a reply quoted at the line start.
  return /^(?:[<>]{3}\s)?[245]\d\d(?:[\s-][245]\.\d{1,3}\.\d{1,3})?$/.test(low);
}

function mentions(lines: string[], excluded: ReadonlySet<string>): Mention[] {
  const found: Mention[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const low = line.trimStart().toLowerCase();
    if (NOT_RECIPIENT_LINES.some((p) => low.startsWith(p))) continue;
    for (const hit of findAddresses(line, 4)) {
      const address = hit.address.toLowerCase();
      if (excluded.has(address) || isDaemon(address)) continue;
      if (!announces(leadOf(line, hit.index))) continue;
      found.push({ address: hit.address, line: i, after: line.slice(hit.end) });
      break;
    }
  }
  return found;
}

function hasAny(text: string, words: readonly string[]): boolean {
  return words.some((w) => text.includes(w));
}

/** The paragraph that explains one recipient: the rest of its line and what follows, up to an empty line. */
function paragraph(lines: string[], mention: Mention, stop: number): string {
  const out: string[] = [mention.after.replace(/^[\s>:.,)\]]+/, '')];
  let i = mention.line + 1;
  // An address alone on its line (Gmail, Exchange): the explanation is the next paragraph.
  if (out[0].trim() === '') while (i < stop && lines[i].trim() === '') i += 1;
  for (; i < stop && lines[i].trim() !== ''; i += 1) out.push(lines[i].trim());
  let text = out.join(' ').trim();
  // "The error that the other server returned was:" leaves the quote in the next paragraph.
  if (text.endsWith(':') && !text.includes('said:')) {
    while (i < stop && lines[i].trim() === '') i += 1;
    for (; i < stop && lines[i].trim() !== ''; i += 1) text += ' ' + lines[i].trim();
  }
  return text.slice(0, MAX_DIAGNOSTIC);
}

/** RFC 3463's code for a reason read from words, for bounces that carry no code. */
const TYPICAL_DETAIL: Record<string, string> = {
  userunknown: '1.1',
  hostunknown: '1.2',
  hasmoved: '1.6',
  notaccept: '1.10',
  mailboxfull: '2.2',
  mesgtoobig: '3.4',
  suspend: '2.1',
  expired: '4.7',
  networkerror: '4.0',
  toomanyconn: '4.5',
  systemerror: '3.0',
  contenterror: '6.0',
  securityerror: '7.0',
  authfailure: '7.26',
  requireptr: '7.25',
  norelaying: '7.1',
  blocked: '7.1',
  rejected: '7.1',
  filtered: '7.1',
  spamdetected: '7.1',
  virusdetected: '7.1',
  policyviolation: '7.1',
  badreputation: '7.1',
};

/** The recipients of a prose bounce, in the order the text names them. */
export function readText(report: string, excluded: ReadonlySet<string>, limit: number, fallback: readonly string[] = [], subject = ''): BounceRecipient[] {
  const lines = report.split('\n', MAX_LINES).map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const all = mentions(lines, excluded);
  if (all.length === 0 && fallback.length > 0) {
    // The text names nobody we can read: the report answers for the addresses the header names, explained where a code is quoted.
    let at = lines.findIndex((l) => findReply(l) !== null || findStatus(l) !== '');
    if (at < 0) at = lines.findIndex((l) => l.trim() !== '');
    if (at < 0) at = 0;
    for (const address of fallback) all.push({ address, line: at, after: lines[at] ?? '' });
  }
  const order: Mention[] = [];
  const seen = new Set<string>();
  for (const m of all) {
    const key = m.address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    order.push(m);
    if (order.length >= limit) break;
  }
  const whole = normaliseText(report);
  const temporary = hasAny(whole, DELAY_WORDS) && !hasAny(whole, PERMANENT_WORDS);
  // Later mentions of each address, for the transcript lookup below (one pass, not one per recipient).
  const later = new Map<string, Mention[]>();
  for (const m of all) {
    const key = m.address.toLowerCase();
    const list = later.get(key);
    if (list) list.push(m);
    else later.set(key, [m]);
  }
  // An explanation written before the list of recipients (MailMarshal, some gateways) applies to each of them.
  const first = order.length > 0 ? order[0].line : 0;
  let preamble = '';
  for (let i = 0; i < first && preamble === ''; i += 1) {
    if (findReply(lines[i]) !== null || findStatus(lines[i]) !== '') preamble = paragraph(lines, { address: '', line: i, after: lines[i] }, first);
  }
  const recipients: BounceRecipient[] = [];
  for (let n = 0; n < order.length; n += 1) {
    const mention = order[n];
    const stop = n + 1 < order.length ? order[n + 1].line : lines.length;
    let diagnostic = paragraph(lines, mention, stop);
    // Later mentions of the same address (a transcript) may quote the server where the first did not.
    if (findReply(diagnostic) === null && findStatus(diagnostic) === '') {
      for (const again of later.get(mention.address.toLowerCase()) ?? []) {
        if (again.line <= mention.line) continue;
        const quote = paragraph(lines, again, lines.length);
        if (findReply(quote) !== null || findStatus(quote) !== '') {
          diagnostic = `${diagnostic} ${quote}`.trim().slice(0, MAX_DIAGNOSTIC);
          break;
        }
      }
    }
    if (preamble !== '' && findReply(diagnostic) === null && findStatus(diagnostic) === '') diagnostic = `${diagnostic} ${preamble}`.trim().slice(0, MAX_DIAGNOSTIC);
    const region = lines.slice(mention.line, stop).join('\n');
    const reply = findReply(diagnostic) ?? findReply(region);
    let status = findStatus(diagnostic) || findStatus(region);
    const klass = status !== '' ? status[0] : reply !== null ? String(reply)[0] : temporary ? '4' : '5';
    const action: Action = klass === '4' ? 'delayed' : klass === '2' ? 'delivered' : 'failed';
    const reason = classify({ status: status || `${klass}.0.0`, action, diagnostic, context: `${region}\n${subject}` });
    if (status === '') status = `${klass}.${TYPICAL_DETAIL[reason] ?? '0.0'}`;
    recipients.push(deliveryEntry({ address: mention.address, action, status, replyCode: reply, diagnostic, reason, remoteMta: '' }));
  }
  return recipients;
}
