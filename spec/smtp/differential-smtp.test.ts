/**
 * Differential test against real Tcllib (smtp 1.5.1): the same message and
 * options go through Tcllib's `smtp::sendmessage` and through tclmail to
 * recording servers on 127.0.0.1. The envelopes (MAIL FROM, RCPT set per
 * transaction) and the transmitted header names must match, except where
 * docs/smtp.md documents a deliberate difference, which is asserted here as
 * exactly that difference.
 */
import { spawn } from 'node:child_process';
import * as mime from '../../mime';
import { sendmessage, type SendMessageOptions } from '../../smtp/sendmessage';
import { tracked } from '../support/fixtures';
import { describeWithTcllib, tclQuote } from '../support/tcl';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

interface Transaction {
  mailFrom: string;
  rcptTo: string[];
  /** Header field names, lowercased, in order. */
  names: string[];
  /** Header fields, lowercased name → values. */
  fields: Map<string, string[]>;
}

const recorder = tracked().opener(scriptedServer);

function transactions(srv: ScriptedServer): Transaction[] {
  return srv.messages.map((m) => {
    const text = m.data.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]/g, ' ');
    const fields = new Map<string, string[]>();
    const names: string[] = [];
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      names.push(name);
      fields.set(name, [...(fields.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    return { mailFrom: m.mailFrom, rcptTo: [...m.rcptTo].sort(), names, fields };
  });
}

/** Runs tclsh without blocking the event loop (the recording server lives in this process). */
function tcl(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('tclsh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 20_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(`package require mime\npackage require smtp\n${script}\n`);
  });
}

interface Case {
  /** `-header` pairs, in order. */
  header: Array<[string, string]>;
  /** Fields set on the part itself (setheader). */
  part?: Array<[string, string]>;
  originator?: string;
  recipients?: string;
}

/** Sends `c` with Tcllib; resolves to what the server recorded, or Tcl's error text. */
async function viaTcllib(c: Case): Promise<{ transactions: Transaction[]; error: string }> {
  const srv = await recorder();
  const lines = ['set tok [mime::initialize -canonical text/plain -string "Hello from the differential test."]'];
  for (const [k, v] of c.part ?? []) lines.push(`mime::setheader $tok ${tclQuote(k)} ${tclQuote(v)}`);
  const args = ['-servers', '127.0.0.1', '-ports', String(srv.port), '-usetls', '0'].map(tclQuote);
  for (const [k, v] of c.header) args.push('-header', `[list ${tclQuote(k)} ${tclQuote(v)}]`);
  if (c.originator !== undefined) args.push('-originator', tclQuote(c.originator));
  if (c.recipients !== undefined) args.push('-recipients', tclQuote(c.recipients));
  lines.push(`if {[catch {smtp::sendmessage $tok ${args.join(' ')}} err]} { puts "ERROR: $err" } else { puts "OK: $err" }`);
  const run = await tcl(lines.join('\n'));
  expect(run.code).toBe(0);
  await Promise.all(Array.from({ length: srv.connections }, (_, i) => srv.closedConnection(i)));
  return { transactions: transactions(srv), error: run.stdout.startsWith('ERROR: ') ? run.stdout.slice(7).trim() : '' };
}

async function viaTclmail(c: Case, extra: SendMessageOptions = {}): Promise<{ transactions: Transaction[]; result: unknown }> {
  const srv = await recorder();
  const tok = mime.initialize({ canonical: 'text/plain', string: 'Hello from the differential test.' });
  try {
    for (const [k, v] of c.part ?? []) mime.setheader(tok, k, v);
    const result = await sendmessage(tok, {
      servers: ['127.0.0.1'],
      ports: [srv.port],
      header: c.header,
      originator: c.originator,
      recipients: c.recipients,
      ...extra,
    });
    await Promise.all(Array.from({ length: srv.connections }, (_, i) => srv.closedConnection(i)));
    return { transactions: transactions(srv), result };
  } finally {
    mime.finalize(tok, { subordinates: 'all' });
  }
}

const envelope = (t: Transaction[]) => t.map(({ mailFrom, rcptTo }) => ({ mailFrom, rcptTo }));
// The MIME layer decides the transfer encoding on its own; the comparison is about what sendmessage adds and removes.
const smtpNames = (t: Transaction) => new Set(t.names.filter((n) => n !== 'content-transfer-encoding'));

describeWithTcllib('sendmessage compared with Tcllib smtp::sendmessage', () => {
  it('matches on a plain message: MAIL FROM, the RCPT set and the header names', async () => {
    const c: Case = { header: [['From', 'Ann <a@x.org>'], ['To', 'b@y.org, c@y.org'], ['Cc', 'd@y.org'], ['Subject', 'Hi']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(t.error).toBe('');
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    expect(envelope(m.transactions)).toEqual([{ mailFrom: 'a@x.org', rcptTo: ['b@y.org', 'c@y.org', 'd@y.org'] }]);
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
    expect(smtpNames(m.transactions[0])).toEqual(new Set(['mime-version', 'content-id', 'content-type', 'from', 'to', 'cc', 'subject', 'date', 'message-id']));
  });

  it('matches on Dcc: a RCPT in both, transmitted by neither', async () => {
    const c: Case = { header: [['From', 'a@x.org'], ['To', 'b@y.org'], ['Dcc', 'hid@y.org']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
    expect(smtpNames(m.transactions[0]).has('dcc')).toBe(false);
  });

  it('matches on resent mode: Resent-From and Resent-To drive the envelope, Resent-Date and Resent-Message-ID are added', async () => {
    const c: Case = {
      header: [['Resent-From', 'fwd@x.org'], ['Resent-To', 'new@y.org']],
      part: [['From', 'orig@z.org'], ['To', 'old@z.org'], ['Date', 'Tue, 29 Feb 2000 21:57:00 +0000'], ['Message-ID', '<orig@z.org>']],
    };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    expect(envelope(m.transactions)).toEqual([{ mailFrom: 'fwd@x.org', rcptTo: ['new@y.org'] }]);
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
    expect([...smtpNames(m.transactions[0])]).toEqual(expect.arrayContaining(['resent-date', 'resent-message-id']));
  });

  it("differs on purpose in the Sender it adds: the originator's address, not the From address (RFC 5322 §3.6.2)", async () => {
    const c: Case = { originator: 'b@x.org', header: [['From', 'a@y.org'], ['To', 'c@z.org']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
    expect(t.transactions[0].fields.get('sender')).toEqual(['a@y.org']);
    expect(m.transactions[0].fields.get('sender')).toEqual(['b@x.org']);
  });

  it('differs on purpose with -recipients alone: no empty Bcc field is added', async () => {
    const c: Case = { originator: 'a@x.org', recipients: 'b@y.org,c@y.org', header: [['Subject', 'No To']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    const tclNames = smtpNames(t.transactions[0]);
    expect(tclNames.has('bcc')).toBe(true);
    expect(t.transactions[0].fields.get('bcc')).toEqual(['']);
    tclNames.delete('bcc');
    expect(smtpNames(m.transactions[0])).toEqual(tclNames);
  });

  it("matches Tcllib's two transactions with bcc 'digest', minus the empty Bcc field in the digest", async () => {
    const c: Case = { header: [['From', 'a@x.org'], ['To', 'b@y.org'], ['Bcc', 'hid@z.org'], ['Subject', 'Secret']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c, { bcc: 'digest' })]);
    expect(envelope(m.transactions)).toEqual(envelope(t.transactions));
    expect(envelope(m.transactions)).toEqual([
      { mailFrom: 'a@x.org', rcptTo: ['b@y.org'] },
      { mailFrom: 'a@x.org', rcptTo: ['hid@z.org'] },
    ]);
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
    const tclDigest = smtpNames(t.transactions[1]);
    expect(t.transactions[1].fields.get('bcc')).toEqual(['']);
    tclDigest.delete('bcc');
    // Tcllib 1.7.0 writes the boundary twice, the second time on a line of its own.
    const broken = [...tclDigest].filter((name) => !/^[a-z0-9-]+$/.test(name));
    expect(broken).toEqual([expect.stringMatching(/^;\s*boundary=/)]);
    broken.forEach((name) => tclDigest.delete(name));
    expect(smtpNames(m.transactions[1])).toEqual(tclDigest);
    expect(m.transactions[1].fields.get('subject')).toEqual(t.transactions[1].fields.get('subject'));
  });

  it('differs on purpose by default: Bcc recipients get the message itself in the same transaction', async () => {
    const c: Case = { header: [['From', 'a@x.org'], ['To', 'b@y.org'], ['Bcc', 'hid@z.org']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(envelope(t.transactions)).toHaveLength(2);
    expect(envelope(m.transactions)).toEqual([{ mailFrom: 'a@x.org', rcptTo: ['b@y.org', 'hid@z.org'] }]);
    expect(smtpNames(m.transactions[0])).toEqual(smtpNames(t.transactions[0]));
  });

  it("differs on purpose for a part's own To: Tcllib needs -header To, tclmail sends as written", async () => {
    const c: Case = { header: [['From', 'a@x.org']], part: [['To', 'b@y.org']] };
    const [t, m] = await Promise.all([viaTcllib(c), viaTclmail(c)]);
    expect(t.error).toMatch(/need -header "To \.\.\."/);
    expect(t.transactions).toEqual([]);
    expect(envelope(m.transactions)).toEqual([{ mailFrom: 'a@x.org', rcptTo: ['b@y.org'] }]);
  });
});
