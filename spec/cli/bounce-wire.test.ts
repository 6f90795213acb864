/**
 * Bounces wired to bulk runs, as child processes against the capture server
 * on 127.0.0.1: `bulk --verp` (an envelope sender per item, checked before
 * anything is sent), `bulk --suppress` (listed addresses never sent, reported
 * suppressed, exit status unchanged), `bulk --unsubscribe` (the two fields
 * with a token the receiver accepts), `bounces --journal` (the item becomes
 * bounced in the sidecar; a later success does not undo a hard bounce; the
 * Message-ID finds an item without VERP), and `tclmail unsubscribe`.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startCaptureServer } from '../../cli/serve';
import { FileLedger } from '../../smtp/bulk/journal';
import { unsubscribeToken } from '../../smtp/bulk/unsubscribe';
import { captureWork } from '../support/capture-work';
import { ensureBuilt, lines, run, start, stop } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);
jest.setTimeout(60_000);

const capture = captureWork('tclmail-bounce-wire-');
const { file } = capture;
const at = (): string[] => [...capture.servers(), '--progress', 'none'];
const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}}.\n' });

/** A minimal RFC 3464 report about `recipient`, delivered to `to`. */
function dsn(o: { to: string; recipient: string; action: string; status: string; envid?: string; messageId?: string }): string {
  return [
    'From: MAILER-DAEMON@mx.example.net',
    `To: ${o.to}`,
    'Subject: Delivery Status Notification',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    ...(o.envid ? [`Original-Envelope-Id: ${o.envid}`] : []),
    '',
    `Final-Recipient: rfc822; ${o.recipient}`,
    `Action: ${o.action}`,
    `Status: ${o.status}`,
    ...(o.action === 'failed' ? [`Diagnostic-Code: smtp; 550 ${o.status} no such user`] : []),
    '',
    '--b1',
    'Content-Type: text/rfc822-headers',
    '',
    `From: news@example.com`,
    `To: ${o.recipient}`,
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'Subject: Hello',
    '',
    '--b1--',
    '',
  ].join('\r\n');
}

describe('tclmail bulk --verp and --suppress', () => {
  it('sends each item from its own VERP address, skips suppressed addresses (reported, journaled, exit 0)', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\nb2,bob@example.com,Bob\nc3,Carl@Example.com,Carl\n');
    const suppress = file('s.csv', 'address,reason,date\ncarl@example.com,userunknown,2026-01-01T00:00:00Z\n');
    const journal = join(capture.work, 'run.jsonl');
    const result = await run(['bulk', template, list, ...at(), '--journal', journal, '--verp', 'bounces+{id}@example.org', '--suppress', suppress, '--report', join(capture.work, 'r.csv')]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(capture.seen.map((m) => [m.from, m.to.join()]).sort()).toEqual([
      ['bounces+a1@example.org', 'ann@example.com'],
      ['bounces+b2@example.org', 'bob@example.com'],
    ]);
    expect(result.stdout).toMatch(/^suppressed c3 Carl@Example.com - on the suppression list/m);
    expect(readFileSync(join(capture.work, 'r.csv'), 'utf8')).toMatch(/^c3,Carl@Example.com,suppressed,/m);
    const ledger = await FileLedger.openReadOnly(journal);
    try {
      expect(ledger.lookupSync('c3')?.state).toBe('suppressed');
      expect(await ledger.counts()).toMatchObject({ sent: 2, suppressed: 1, failed: 0, done: 3 });
      // The Message-ID each item went out with is on its outcome line.
      expect(ledger.lookupSync('a1')?.messageId).toMatch(/^<.+@.+>$/);
    } finally {
      await ledger.close();
    }
    // A resume sends nothing more and keeps c3 suppressed.
    const again = await run(['bulk', template, list, ...at(), '--journal', journal, '--suppress', suppress]);
    expect(again.status).toBe(0);
    expect(capture.seen).toHaveLength(2);
  });

  it('to a relay without DSN, the message goes without ENVID (spec/real/bounces-e2e.test.ts shows it with Postfix)', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\n');
    const result = await run(['bulk', template, list, ...at(), '--verp', 'bounces+{id}@example.org', '--debug']);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^C: MAIL FROM:<bounces\+a1@example\.org>$/m);
    expect(result.stderr).not.toMatch(/ENVID/);
    expect(capture.seen).toHaveLength(1);
  });

  it('refuses (65, nothing sent) a run where an id makes a local part over 64 octets, or a --verp without {id}', async () => {
    const template = file('t.json', TEMPLATE);
    const long = 'x'.repeat(60);
    const list = file('l.csv', `id,email,name\nok,ann@example.com,Ann\n${long},bob@example.com,Bob\n`);
    const result = await run(['bulk', template, list, ...at(), '--verp', 'bounces+{id}@example.org']);
    expect(result.status).toBe(65);
    expect(result.stderr).toMatch(new RegExp(`id "${long}": .*over RFC 5321's 64`));
    expect(capture.seen).toHaveLength(0);
    const usage = await run(['bulk', template, list, ...at(), '--verp', 'bounces@example.org']);
    expect(usage.status).toBe(64);
    expect(usage.stderr).toMatch(/--verp: .*\{id\} exactly once/);
  });
});

describe('tclmail bulk --unsubscribe and tclmail unsubscribe', () => {
  it('adds List-Unsubscribe with a token the receiver accepts; the receiver suppresses that address only', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\n');
    const secret = file('key', 'a-secret-of-at-least-16-bytes\n');
    const suppress = join(capture.work, 'suppress.csv');
    const receiver = start(['unsubscribe', '--listen', '127.0.0.1:0', '--secret-file', secret, '--suppress', suppress]);
    try {
      const out = lines(receiver);
      const [, url] = await out.waitFor(/^listening on (http:\S+)/);
      const sent = await run(['bulk', template, list, ...at(), '--unsubscribe', `${url}u`, '--unsubscribe-secret-file', secret]);
      expect(sent.status).toBe(0);
      const stored = readFileSync(capture.seen[0].path, 'utf8');
      const field = /^List-Unsubscribe: <([^>]+)>/m.exec(stored)![1];
      expect(stored).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
      expect(new URL(field).searchParams.get('t')).toBe(unsubscribeToken('a-secret-of-at-least-16-bytes', 'a1', 'ann@example.com'));

      const post = (target: string, body: string, method = 'POST'): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = request(target, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(body);
        });
      expect(await post(field, 'List-Unsubscribe=One-Click', 'GET')).toBe(405);
      expect(await post(field, 'unsubscribe=yes')).toBe(400);
      const forged = new URL(field);
      forged.searchParams.set('t', unsubscribeToken('another-secret-of-16-bytes', 'a1', 'bob@example.com'));
      expect(await post(forged.toString(), 'List-Unsubscribe=One-Click')).toBe(404);
      expect(await post(field, 'List-Unsubscribe=One-Click')).toBe(200);
      await out.waitFor(/ unsubscribe ann@example\.com a1$/);
      const listed = readFileSync(suppress, 'utf8');
      expect(listed).toMatch(/^ann@example\.com,unsubscribe,/m);
      expect(listed).not.toMatch(/bob@/);
    } finally {
      await stop(receiver);
    }
  });

  it('refuses an unsubscribe URL without its secret file, and a secret under 16 bytes', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\n');
    expect((await run(['bulk', template, list, ...at(), '--unsubscribe', 'https://example.org/u'])).status).toBe(64);
    const short = file('short', 'tiny\n');
    const result = await run(['bulk', template, list, ...at(), '--unsubscribe', 'https://example.org/u', '--unsubscribe-secret-file', short]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/at least 16 bytes/);
    expect(capture.seen).toHaveLength(0);
  });
});

describe('tclmail bounces --journal', () => {
  async function campaign(): Promise<{ journal: string; messageId: string }> {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\nb2,bob@example.com,Bob\nc3,carl@example.com,Carl\n');
    const journal = join(capture.work, 'run.jsonl');
    expect((await run(['bulk', template, list, ...at(), '--journal', journal, '--verp', 'bounces+{id}@example.org'])).status).toBe(0);
    const ledger = await FileLedger.openReadOnly(journal);
    const messageId = ledger.lookupSync('c3')!.messageId!;
    await ledger.close();
    return { journal, messageId };
  }

  it('records a hard bounce found by VERP, a soft one by ENVID, one by Message-ID; status shows them; a later success keeps the hard one', async () => {
    const { journal, messageId } = await campaign();
    const hard = file('hard.eml', dsn({ to: 'bounces+a1@example.org', recipient: 'ann@example.com', action: 'failed', status: '5.1.1' }));
    const soft = file('soft.eml', dsn({ to: 'postmaster@example.org', recipient: 'bob@example.com', action: 'failed', status: '4.2.2', envid: 'b2' }));
    const byId = file('byid.eml', dsn({ to: 'postmaster@example.org', recipient: 'carl@example.com', action: 'failed', status: '5.1.1', messageId }));
    const suppress = join(capture.work, 'suppress.csv');
    const result = await run(['bounces', '--json', '--verp', 'bounces+{id}@example.org', '--journal', journal, '--suppress', suppress, hard, soft, byId]);
    expect(result.status).toBe(0);
    const entries = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { item: string; recorded: string; status: string });
    expect(entries.map((e) => [e.item, e.status, e.recorded])).toEqual([
      ['a1', '5.1.1', 'bounced'],
      ['b2', '4.2.2', 'bounced'],
      ['c3', '5.1.1', 'bounced'],
    ]);
    const status = await run(['bulk', '--status', 'run', '--journal', journal, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 3, sent: 0, bounced: 3, done: 3 });

    // A later success report: clears bob's soft bounce, never ann's hard one.
    const okAnn = file('ok-ann.eml', dsn({ to: 'bounces+a1@example.org', recipient: 'ann@example.com', action: 'delivered', status: '2.0.0' }));
    const okBob = file('ok-bob.eml', dsn({ to: 'bounces+b2@example.org', recipient: 'bob@example.com', action: 'delivered', status: '2.0.0' }));
    const later = await run(['bounces', '--verp', 'bounces+{id}@example.org', '--journal', journal, okAnn, okBob]);
    expect(later.stdout).toMatch(/\ta1\t.*\tkept\t/);
    expect(later.stdout).toMatch(/\tb2\t.*\tcleared\t/);
    const ledger = await FileLedger.openReadOnly(journal);
    try {
      expect(ledger.lookupSync('a1')).toMatchObject({ state: 'bounced', bounce: { status: '5.1.1', hard: true } });
      expect(ledger.lookupSync('b2')?.state).toBe('sent');
      const bounced = [];
      for await (const item of ledger.items({ states: ['bounced'] })) bounced.push(item.id);
      expect(bounced.sort()).toEqual(['a1', 'c3']);
    } finally {
      await ledger.close();
    }
    expect(readFileSync(suppress, 'utf8')).toMatch(/^ann@example\.com,userunknown,/m);
    expect(readFileSync(suppress, 'utf8')).not.toMatch(/bob@/);
  });

  it('leaves an item that was not sent alone, and an unknown id unmatched', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name\na1,ann@example.com,Ann\n');
    const journal = join(capture.work, 'run.jsonl');
    await capture.server.close();
    // Nothing listening: the item fails and is never sent.
    expect((await run(['bulk', template, list, ...at(), '--journal', journal, '--retries', '0', '--give-up-after', '0'])).status).toBe(2);
    capture.server = await startCaptureServer({ dir: join(capture.work, 'mail2') });
    const hard = file('hard.eml', dsn({ to: 'x@example.org', recipient: 'ann@example.com', action: 'failed', status: '5.1.1', envid: 'a1' }));
    const stray = file('stray.eml', dsn({ to: 'x@example.org', recipient: 'zed@example.com', action: 'failed', status: '5.1.1', envid: 'zz' }));
    const result = await run(['bounces', '--json', '--journal', journal, hard, stray]);
    expect(result.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { recorded: string }).recorded)).toEqual(['not-sent', 'unknown']);
    const status = await run(['bulk', '--status', 'run', '--journal', journal, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ bounced: 0, failed: 1 });
  });

  it('serve refuses the bounce flags without --bounces', async () => {
    const result = await run(['serve', '--port', '0', '--dir', join(capture.work, 'in'), '--journal', join(capture.work, 'j.jsonl')]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/--journal goes with --bounces/);
  });

  it('refuses a missing journal, and --journal with --redis', async () => {
    const eml = file('m.eml', dsn({ to: 'x@example.org', recipient: 'ann@example.com', action: 'failed', status: '5.1.1' }));
    expect((await run(['bounces', '--journal', join(capture.work, 'none.jsonl'), eml])).stderr).toMatch(/no such journal/);
    expect((await run(['bounces', '--journal', join(capture.work, 'none.jsonl'), '--redis', 'redis://127.0.0.1:1', '--campaign', 'c', eml])).status).toBe(64);
  });
});
