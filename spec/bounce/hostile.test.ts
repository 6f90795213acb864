/**
 * bounce.parse faces mail from strangers: it never throws on a message, and
 * returns null or a well-formed report, bounded in size, for random and
 * hostile input. Speed is measured by bench:bounces; these inputs only have
 * to finish within the test's ordinary time limit.
 */
import fc from 'fast-check';
import { bounce } from '../../index';
import type { BounceReport } from '../../bounce';

const ACTIONS = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

function wellFormed(report: BounceReport | null): void {
  if (report === null) return;
  expect(['dsn', 'feedback', 'autoreply']).toContain(report.kind);
  expect(typeof report.reportingMta).toBe('string');
  expect(typeof report.original.messageId).toBe('string');
  expect(report.recipients.length).toBeLessThanOrEqual(bounce.MAX_RECIPIENTS);
  for (const r of report.recipients) {
    expect(ACTIONS).toContain(r.action);
    expect(r.status === '' || /^[245]\.\d{1,3}\.\d{1,3}$/.test(r.status)).toBe(true);
    expect(r.replyCode === null || (Number.isInteger(r.replyCode) && r.replyCode >= 200 && r.replyCode < 600)).toBe(true);
    expect(bounce.REASONS).toContain(r.reason);
    expect(typeof r.hard).toBe('boolean');
    expect(r.diagnostic.length).toBeLessThanOrEqual(8192);
  }
}

const FRAGMENTS = [
  'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n',
  'Content-Type: message/delivery-status\r\n',
  'Content-Type: message/feedback-report\r\n',
  'Content-Type: message/rfc822\r\n',
  '--b\r\n',
  '--b--\r\n',
  '\r\n',
  'Final-Recipient: rfc822; a@b.example\r\n',
  'Final-Recipient: utf-8; \\x{110000}@x.example\r\n',
  'Action: failed\r\n',
  'Status: 5.1.1\r\n',
  'Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n',
  'Feedback-Type: abuse\r\n',
  'From: MAILER-DAEMON@x.example\r\n',
  'Subject: Undelivered Mail Returned to Sender\r\n',
  'Auto-Submitted: auto-replied\r\n',
  '<a@b.example>: host x said: 550 no\r\n',
  '------ This is a copy of the message, including all the headers. ------\r\n',
  '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":5}]}}\r\n',
  '@@@@....@\r\n',
];

test('random bytes: never a throw, null or a well-formed report', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      wellFormed(bounce.parse(Buffer.from(bytes)));
    }),
    { numRuns: 300 },
  );
});

test('random arrangements of report fragments: never a throw, null or a well-formed report', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 40 })), { maxLength: 60 }), (pieces) => {
      wellFormed(bounce.parse(pieces.join('')));
    }),
    { numRuns: 500 },
  );
});

const BOUNCE_HEAD = 'From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail Returned to Sender\r\n';

test('a million recipient lines in a delivery-status part: bounded output', () => {
  const groups = 'Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n'.repeat(1_000_000 / 3);
  const message = `${BOUNCE_HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n${groups}--b--\r\n`;
  const report = bounce.parse(message);
  wellFormed(report);
  expect(report?.recipients.length).toBeGreaterThan(0);
  expect(report?.recipients.length).toBeLessThanOrEqual(bounce.MAX_RECIPIENTS);
});

test('a million prose recipient lines: bounded output', () => {
  const lines = Array.from({ length: 1_000_000 }, (_, i) => `<u${i}@example.net>: 550 5.1.1 user unknown`).join('\n');
  const report = bounce.parse(`${BOUNCE_HEAD}\r\n${lines}\n`);
  wellFormed(report);
  expect(report?.recipients.length).toBeLessThanOrEqual(bounce.MAX_RECIPIENTS);
});

test('a huge header, a huge single line and deep nesting end with a bounded answer', () => {
  wellFormed(bounce.parse(`${BOUNCE_HEAD}X-Big: ${'a'.repeat(3_000_000)}\r\n\r\nbody\r\n`));
  wellFormed(bounce.parse(`${BOUNCE_HEAD}\r\n${'@'.repeat(2_000_000)}\r\n${'a.'.repeat(1_000_000)}@\r\n`));
  let nested = 'Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nStatus: 5.1.1\r\n';
  for (let i = 0; i < 2000; i += 1) nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}\r\n--b${i}--\r\n`;
  wellFormed(bounce.parse(BOUNCE_HEAD + nested));
  let messages = 'Subject: x\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\n';
  for (let i = 0; i < 2000; i += 1) messages = `Content-Type: message/rfc822\r\n\r\n${messages}`;
  wellFormed(bounce.parse(BOUNCE_HEAD + messages));
});

test('a message over the read limit is cut, not refused', () => {
  const big = Buffer.alloc(6 * 1024 * 1024, 'x');
  expect(() => bounce.parse(Buffer.concat([Buffer.from(`${BOUNCE_HEAD}\r\n`), big]))).not.toThrow();
});
