/**
 * bounce.parse: which kind of report a message is, and what it says about
 * each recipient. The standard parts are read first (RFC 5965 feedback,
 * RFC 3464 delivery status), then the JSON of Amazon SES notifications, then
 * the prose of MTAs that write no status part, and last RFC 3834 auto-replies.
 */
import * as mime from '../mime';
import { OptionError } from '../lib/errors';
import { addressIn, findAddresses, isRobot } from './addresses';
import { readStatusReports } from './dsn';
import { findReply } from './codes';
import { arrivalEntry, feedbackEntry } from './entries';
import { readFeedback } from './feedback';
import { AUTOREPLY_SUBJECTS, BOUNCE_SUBJECTS } from './layouts';
import { first, flatten, MAX_MESSAGE, type Fields, type Flat } from './message';
import { readSes } from './ses';
import { readText, splitOriginal } from './text';
import type { BounceRecipient, BounceReport, ParseOptions } from './types';
import { verpItem } from './verp';

/** Recipient entries reported at most for one message. */
export const MAX_RECIPIENTS = 1000;

function lower(value: string): string {
  return value.toLowerCase();
}

/** Whether the header says the message is a delivery report written by a mail system. */
function fromMailSystem(header: Fields): boolean {
  const from = lower(first(header, 'from'));
  const subject = lower(first(header, 'subject'));
  const sender = addressIn(from);
  if (sender !== '' && isRobot(sender)) return true;
  if (from.includes('mailer-daemon') || from.includes('mail delivery') || from.includes('postmaster') || from.includes('mail administrator')) return true;
  if (BOUNCE_SUBJECTS.some((s) => subject.includes(s))) return true;
  // RFC 3834 section 3.3 sends auto-replies with a null return path too: the subject tells them apart.
  return lower(first(header, 'return-path')).replace(/\s/g, '') === '<>' && !isAutoReply(header);
}

function isAutoReplyHeader(header: Fields): boolean {
  const submitted = lower(first(header, 'auto-submitted'));
  if (submitted.startsWith('auto-replied')) return true;
  if (header.has('x-autoreply') || header.has('x-autorespond') || header.has('x-autoresponder')) return true;
  const precedence = lower(first(header, 'precedence'));
  return precedence === 'auto_reply';
}

function isAutoReply(header: Fields): boolean {
  if (isAutoReplyHeader(header)) return true;
  const subject = lower(first(header, 'subject')).trim();
  return AUTOREPLY_SUBJECTS.some((s) => subject.startsWith(s) || (s.length > 6 && subject.includes(s)));
}

/** Addresses that belong to the sender of the original message or to the report's writer. */
function senders(flat: Flat, original: Fields | null): Set<string> {
  const out = new Set<string>();
  for (const fields of [flat.header, original]) {
    if (fields === null) continue;
    for (const name of ['from', 'return-path', 'sender', 'reply-to', ...(fields === flat.header ? ['to'] : [])]) {
      for (const value of fields.get(name) ?? []) for (const hit of findAddresses(value, 8)) out.add(hit.address.toLowerCase());
    }
  }
  return out;
}

function messageIdOf(fields: Fields | null): string {
  const value = first(fields, 'message-id');
  const open = value.indexOf('<');
  const close = value.indexOf('>', open);
  return (open >= 0 && close > open ? value.slice(open + 1, close) : value).trim();
}

function toToken(message: unknown): { token: mime.Token; owned: boolean } {
  if (mime.isToken(message)) return { token: message, owned: false };
  let bytes: Buffer;
  if (Buffer.isBuffer(message)) bytes = message;
  else if (message instanceof Uint8Array) bytes = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  else if (typeof message === 'string') bytes = Buffer.from(message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message, 'utf8');
  else throw new OptionError('bounce.parse', 'message', `expects a Buffer, a string or a mime token, not ${message === null ? 'null' : typeof message}`);
  if (bytes.length > MAX_MESSAGE) bytes = bytes.subarray(0, MAX_MESSAGE);
  return { token: mime.initialize({ string: bytes }), owned: true };
}

function checkOptions(options: ParseOptions | undefined): string {
  if (options === undefined) return '';
  if (options === null || typeof options !== 'object') throw new OptionError('bounce.parse', undefined, 'options must be an object such as { verp: "bounces+{id}@example.org" }');
  for (const key of Object.keys(options)) {
    if (key !== 'verp') throw new OptionError('bounce.parse', key, `unknown option ${key}: the only option is verp`);
  }
  if (options.verp !== undefined && typeof options.verp !== 'string') throw new OptionError('bounce.parse', 'verp', 'verp expects a template string such as bounces+{id}@example.org');
  // A bad template is the caller's mistake: say so before reading anything.
  if (options.verp !== undefined) verpItem(options.verp, []);
  return options.verp ?? '';
}

/** RFC 3464 fields written into the text itself (a multipart/report without delimiters, a broken part). */
function embeddedReport(prose: string): string[] {
  const low = prose.toLowerCase();
  const at = low.search(/^final-recipient:/m);
  if (at < 0) return [];
  const mta = low.lastIndexOf('reporting-mta:', at);
  return [prose.slice(mta >= 0 ? mta : at)];
}

/**
 * Whether the text reports a failed delivery, for reports whose header does
 * not say they are one: words of failed delivery with a quoted reply code
 * (or `RCPT TO:`, "remote host said"), or with the returned message attached.
 */
function reportsFailure(prose: string, returned: boolean): boolean {
  const low = prose.slice(0, 16 * 1024).toLowerCase();
  if (!low.includes('@')) return false;
  const words = ['could not be delivered', 'undeliverable', 'delivery failed', 'delivery has failed', 'was not delivered', 'unable to deliver'];
  if (findReply(low) !== null && (low.includes('rcpt to:') || low.includes('remote host said') || words.some((w) => low.includes(w)))) return true;
  return returned && words.some((w) => low.includes(w));
}

/**
 * A complaint forwarded without a feedback-report part (Hotmail's JMRP): the
 * subject says complaint and the complained-of message is attached.
 */
function readComplaint(flat: Flat, original: Fields | null): BounceRecipient | null {
  if (original === null || !lower(first(flat.header, 'subject')).includes('complaint')) return null;
  const address = addressIn(first(original, 'x-hmxmroriginalrecipient')) || addressIn(first(original, 'to'));
  return address === '' ? null : feedbackEntry(address, 'abuse');
}

/** The decoded Subject (Sendmail writes the cause there: "Returned mail: User unknown"). */
function subjectOf(flat: Flat): string {
  const subject = first(flat.header, 'subject').slice(0, 998);
  try {
    return mime.field_decode(subject);
  } catch {
    return subject;
  }
}

/** The recipients of a prose bounce, bounded by X-Failed-Recipients when the MTA wrote one. */
function readProse(flat: Flat, prose: string, original: Fields | null): BounceRecipient[] {
  const subject = subjectOf(flat);
  const excluded = senders(flat, original);
  // Exim and Google name the failed recipients in a header field; else the returned message's To.
  const failed = (flat.header.get('x-failed-recipients') ?? []).flatMap((v) => findAddresses(v, MAX_RECIPIENTS).map((f) => f.address));
  const fallback = failed.length > 0 ? failed : [addressIn(first(original, 'to'))].filter((a) => a !== '');
  let recipients = readText(prose, excluded, MAX_RECIPIENTS, fallback, subject);
  if (failed.length > 0) {
    // The header's list is the MTA's own: text mentions outside it are contacts or quotes.
    const listed = new Set(failed.map((a) => a.toLowerCase()));
    const kept = recipients.filter((r) => listed.has(r.address.toLowerCase()));
    if (kept.length > 0) recipients = kept;
    else recipients = readText(prose, new Set([...excluded, ...recipients.map((r) => r.address.toLowerCase())]), MAX_RECIPIENTS, failed, subject);
  }
  for (const r of recipients) {
    // Google Groups refuse a post to a group that is gone or closed to the sender.
    if (r.address.toLowerCase().endsWith('@googlegroups.com') && (r.reason === 'onhold' || r.reason === 'undefined')) r.reason = 'rejected';
  }
  return recipients;
}

function read(flat: Flat, candidates: string[]): BounceReport | null {
  const texts = flat.texts.join('\n');
  const { report: prose, original: inline } = splitOriginal(texts);
  const original = flat.original ?? inline;
  // The returned message's Return-Path is the envelope sender it was sent with: the VERP address.
  for (const value of original?.get('return-path') ?? []) candidates.push(addressIn(value));
  const base = { messageId: messageIdOf(original), envid: '', item: '' };
  if (flat.feedback.length > 0) {
    const feedback = readFeedback(flat.feedback, original, MAX_RECIPIENTS);
    return { kind: 'feedback', reportingMta: feedback.reportingMta, original: base, recipients: feedback.recipients };
  }
  const reports = flat.reports.length > 0 ? flat.reports : embeddedReport(prose);
  if (reports.length > 0) {
    const status = readStatusReports(reports, `${prose}\n${subjectOf(flat)}`, MAX_RECIPIENTS);
    if (status.recipients.length > 0) {
      candidates.push(...status.candidates);
      return { kind: 'dsn', reportingMta: status.reportingMta, original: { ...base, envid: status.envid }, recipients: status.recipients };
    }
  }
  const ses = readSes(texts, MAX_RECIPIENTS);
  if (ses !== null) return ses;
  const complaint = readComplaint(flat, original);
  if (complaint !== null) return { kind: 'feedback', reportingMta: '', original: base, recipients: [complaint] };
  const bounceLike = flat.reports.length > 0 || flat.content === 'multipart/report' || fromMailSystem(flat.header);
  if (bounceLike || reportsFailure(prose, flat.original !== null)) {
    const recipients = readProse(flat, prose, original);
    if (recipients.length > 0) return { kind: 'dsn', reportingMta: '', original: base, recipients };
  }
  if (!bounceLike && isAutoReply(flat.header)) {
    const entry = arrivalEntry(addressIn(first(flat.header, 'from')), 'vacation', subjectOf(flat));
    return { kind: 'autoreply', reportingMta: '', original: { ...base, messageId: messageIdOf(new Map([['message-id', [first(flat.header, 'in-reply-to')]]])) }, recipients: [entry] };
  }
  return null;
}

/** Addresses a bounce may have been delivered to, for VERP. */
function deliveredTo(flat: Flat, report: BounceReport, candidates: string[]): string[] {
  const out: string[] = [];
  for (const name of ['x-original-to', 'delivered-to', 'envelope-to', 'to', 'return-path']) {
    for (const value of flat.header.get(name) ?? []) for (const hit of findAddresses(value, 8)) out.push(hit.address);
  }
  for (const r of report.recipients) out.push(r.address);
  return [...out, ...candidates];
}

/**
 * Reads a delivery status notification (RFC 3464, RFC 6533), a feedback
 * report (RFC 5965), an auto-reply (RFC 3834) or an MTA's prose bounce.
 * Returns null for ordinary mail. Never throws on the message's content: a
 * hostile or broken message gives null or a partial report, in time linear in
 * its size (only the first 4 MiB are read); it throws an OptionError only for
 * an argument that is not a message and a bad `verp` template.
 *
 * TypeScript: `bounce.parse(fs.readFileSync('bounce.eml'), { verp: 'bounces+{id}@example.org' })`
 */
export function parse(message: Buffer | Uint8Array | string | mime.Token, options?: ParseOptions): BounceReport | null {
  const verp = checkOptions(options);
  const { token, owned } = toToken(message);
  try {
    let report: BounceReport | null;
    let flat: Flat;
    const candidates: string[] = [];
    try {
      flat = flatten(token);
      report = read(flat, candidates);
    } catch {
      return null;
    }
    if (report !== null && verp !== '') report.original.item = verpItem(verp, deliveredTo(flat, report, candidates));
    return report;
  } finally {
    if (owned) mime.finalize(token, { subordinates: 'all' });
  }
}
