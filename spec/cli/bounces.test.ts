/**
 * `tclmail bounces` run as a user runs it: a Maildir, an mbox, a message
 * file and standard input; plain and JSON output; the suppression list it
 * appends to; usage errors.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BounceLine } from '../../cli/commands/bounces';
import { loadSuppression } from '../../smtp/bulk/suppression';
import { ensureBuilt, run } from './helpers';

let work: string;

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'tclmail-bounces-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function dsn(id: string, groups: string[]): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.org>',
    `To: bounces+${id}@example.org`,
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    '',
    groups.join('\n\n'),
    '',
    '--b--',
    '',
  ].join('\n');
}

const UNKNOWN = dsn('item1', ['Final-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown']);
const FULL = dsn('item2', ['Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full']);
const TWO = dsn('item3', [
  'Final-Recipient: rfc822; carl@example.net\nAction: failed\nStatus: 5.1.2\nDiagnostic-Code: smtp; 550 5.1.2 Host unknown',
  'Final-Recipient: rfc822; Ann@Example.net\nAction: failed\nStatus: 5.1.1',
]);
const COMPLAINT = [
  'From: fbl@isp.example',
  'To: abuse@example.org',
  'Subject: complaint',
  'Content-Type: multipart/report; report-type=feedback-report; boundary="f"',
  '',
  '--f',
  'Content-Type: message/feedback-report',
  '',
  'Feedback-Type: abuse',
  'Version: 1',
  'Original-Rcpt-To: dave@example.net',
  '',
  '--f--',
  '',
].join('\n');
const ORDINARY = 'From: eve@example.net\nTo: me@example.org\nSubject: hello\n\nJust mail.\n';

test('a Maildir: one line per recipient entry, ordinary mail silent', async () => {
  const maildir = join(work, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  writeFileSync(join(maildir, 'cur', '1.eml'), UNKNOWN);
  writeFileSync(join(maildir, 'new', '2.eml'), FULL);
  writeFileSync(join(maildir, 'new', '3.eml'), ORDINARY);
  writeFileSync(join(maildir, 'tmp', '4.eml'), TWO); // tmp/ is not delivered mail yet
  const result = await run(['bounces', maildir]);
  expect(result.status).toBe(0);
  const rows = result.stdout.trim().split('\n').map((l) => l.split('\t'));
  expect(rows.map((r) => r.slice(1, 6))).toEqual([
    ['dsn', 'ann@example.net', '5.1.1', 'userunknown', 'hard'],
    ['dsn', 'bob@example.net', '5.2.2', 'mailboxfull', 'soft'],
  ]);
  expect(rows[0][0]).toBe(join(maildir, 'cur', '1.eml'));
  expect(result.stderr).toContain('3 message(s), 2 report(s), 2 recipient entries');
});

test('an mbox, --json and --verp: every entry as an object, with its item id', async () => {
  const mbox = join(work, 'bounces.mbox');
  const quoted = UNKNOWN.replace('Reporting-MTA', '>From the mail system\nReporting-MTA');
  writeFileSync(mbox, [quoted, TWO, ORDINARY, COMPLAINT].map((m, i) => `From MAILER-DAEMON Mon Dec  7 08:0${i}:00 2026\n${m}\n`).join(''));
  const result = await run(['bounces', '--json', '--verp', 'bounces+{id}@example.org', mbox]);
  expect(result.status).toBe(0);
  const entries = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as BounceLine);
  expect(entries.map((e) => [e.source, e.kind, e.item, e.address, e.status, e.reason, e.hard])).toEqual([
    [`${mbox}:1`, 'dsn', 'item1', 'ann@example.net', '5.1.1', 'userunknown', true],
    [`${mbox}:2`, 'dsn', 'item3', 'carl@example.net', '5.1.2', 'hostunknown', true],
    [`${mbox}:2`, 'dsn', 'item3', 'Ann@Example.net', '5.1.1', 'userunknown', true],
    [`${mbox}:4`, 'feedback', '', 'dave@example.net', '', 'feedback', false],
  ]);
  expect(entries[0]).toMatchObject({ reportingMta: 'mx.example.org', replyCode: 550, diagnostic: '550 5.1.1 User unknown', action: 'failed' });
  expect(entries[3].feedbackType).toBe('abuse');
});

test('--suppress appends hard bounces and complaints once, creating the list with its header', async () => {
  const list = join(work, 'suppress.csv');
  const eml = join(work, 'two.eml');
  writeFileSync(eml, TWO);
  const first = await run(['bounces', '--suppress', list, '-', eml], { input: UNKNOWN });
  expect(first.status).toBe(0);
  expect(first.stderr).toContain(`2 address(es) added to ${list}`);
  const second = await run(['bounces', '--suppress', list, '-'], { input: `From x\n${FULL}\nFrom y\n${COMPLAINT}` });
  expect(second.status).toBe(0);
  expect(second.stderr).toContain(`1 address(es) added to ${list}`);
  const rows = readFileSync(list, 'utf8').trim().split('\n');
  expect(rows[0]).toBe('address,reason,date');
  expect(rows.slice(1).map((r) => r.split(',').slice(0, 2))).toEqual([
    ['ann@example.net', 'userunknown'],
    ['carl@example.net', 'hostunknown'],
    ['dave@example.net', 'feedback'],
  ]);
  for (const row of rows.slice(1)) expect(Number.isNaN(Date.parse(row.split(',')[2]))).toBe(false);
  expect(loadSuppression(list)).toEqual(new Set(['ann@example.net', 'carl@example.net', 'dave@example.net']));
});

test('usage errors: no source, a missing file, a plain directory, a bad template', async () => {
  expect((await run(['bounces'])).status).toBe(64);
  const missing = await run(['bounces', join(work, 'nope.eml')]);
  expect(missing.status).toBe(64);
  expect(missing.stderr).toContain('no such file or directory');
  const plain = await run(['bounces', work]);
  expect(plain.status).toBe(64);
  expect(plain.stderr).toContain('must be a Maildir');
  const template = await run(['bounces', '--verp', 'bounces@example.org', '-'], { input: UNKNOWN });
  expect(template.status).toBe(64);
  expect(template.stderr).toContain('{id} exactly once');
});
