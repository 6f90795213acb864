/**
 * `tclmail bulk` and its journal, run as child processes as a user runs them,
 * against the capture server on 127.0.0.1: items that know what they are (a
 * resume with another list, inserted and deleted rows, a hand-written line),
 * one row one recipient (several addresses, a group), invalid rows and
 * --skip-invalid, dry-run names, formula escaping in the report, Ctrl-C and
 * a resume, the circuit breaker against a port with nothing listening, and
 * --status.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseCsv } from '../../cli/csv';
import { captureWork } from '../support/capture-work';
import { scriptedServer } from '../support/scripted-server';
import { ensureBuilt, PROGRAM, run } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);

const capture = captureWork('tclmail-bulk-ledger-', { refuse: (address) => address.startsWith('nobody') });
const { file } = capture;

const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}},\nyour code is {{code}}.\n' });
const at = (): string[] => [...capture.servers(), '--progress', 'none'];
const report = (path: string): string[][] => parseCsv(readFileSync(path, 'utf8')).map((r) => r.fields);
const recipients = (): string[] => capture.seen.map((m) => m.to.join(',')).sort();

describe('tclmail bulk: items that know what they are', () => {
  it('resumes a journal with another list (no id column): the new rows are new items and are sent; nothing is reported sent unsent', async () => {
    const template = file('t.json', TEMPLATE);
    const journal = join(capture.work, 'run.jsonl');
    const monday = file('monday.csv', 'email,name,code\nann@example.com,Ann,1\nbob@example.com,Bob,2\n');
    expect((await run(['bulk', template, monday, ...at(), '--journal', journal])).status).toBe(0);
    const tuesday = file('tuesday.csv', 'email,name,code\ncarl@example.com,Carl,3\ndave@example.com,Dave,4\nerin@example.com,Erin,5\n');
    const result = await run(['bulk', template, tuesday, ...at(), '--journal', journal, '--report', join(capture.work, 'r.csv')]);
    expect(result.status).toBe(0);
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com', 'carl@example.com', 'dave@example.com', 'erin@example.com']);
    for (const row of report(join(capture.work, 'r.csv')).slice(1)) expect([row[1], row[2], row[4]]).toEqual([row[1], 'sent', '']);
    // The manifest follows the list now sent.
    const manifests = readFileSync(journal, 'utf8').split('\n').filter((l) => l.includes('"manifest"')).map((l) => JSON.parse(l) as { total: number });
    expect(manifests.map((m) => m.total)).toEqual([2, 3]);
  });

  it('refuses (65, nothing sent) a list whose ids the journal knows with other content, naming them; --accept-changed goes on', async () => {
    const template = file('t.json', TEMPLATE);
    const journal = join(capture.work, 'run.jsonl');
    const monday = file('monday.csv', 'id,email,name,code\n1,ann@example.com,Ann,1\n2,bob@example.com,Bob,2\n');
    expect((await run(['bulk', template, monday, ...at(), '--journal', journal])).status).toBe(0);
    const tuesday = file('tuesday.csv', 'id,email,name,code\n1,carl@example.com,Carl,3\n2,dave@example.com,Dave,4\n3,erin@example.com,Erin,5\n');
    const refused = await run(['bulk', template, tuesday, ...at(), '--journal', journal, '--report', join(capture.work, 'r.csv')]);
    expect(refused.status).toBe(65);
    expect(refused.stderr).toMatch(/2 items changed .*: "1", "2"\. Nothing was sent/);
    expect(existsSync(join(capture.work, 'r.csv'))).toBe(false);
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com']);
    const accepted = await run(['bulk', template, tuesday, ...at(), '--journal', journal, '--accept-changed', '--report', join(capture.work, 'r.csv')]);
    expect(accepted.status).toBe(0);
    // Rows 1 and 2 were sent before (to ann and bob) and are not sent again; row 3 is new.
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com', 'erin@example.com']);
    expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => `${r[0]}:${r[2]}:${r[4]}`)).toEqual(['1:sent:sent in an earlier run (journal)', '2:sent:sent in an earlier run (journal)', '3:sent:']);
  });

  it('a row inserted or deleted before a resume changes no other row', async () => {
    const template = file('t.json', TEMPLATE);
    const journal = join(capture.work, 'run.jsonl');
    const first = file('a.csv', 'email,name,code\nann@example.com,Ann,1\nbob@example.com,Bob,2\ncarl@example.com,Carl,3\n');
    expect((await run(['bulk', template, first, ...at(), '--journal', journal])).status).toBe(0);
    const inserted = file('b.csv', 'email,name,code\nzed@example.com,Zed,0\nann@example.com,Ann,1\nbob@example.com,Bob,2\ncarl@example.com,Carl,3\n');
    expect((await run(['bulk', template, inserted, ...at(), '--journal', journal])).status).toBe(0);
    const deleted = file('c.csv', 'email,name,code\nann@example.com,Ann,1\ncarl@example.com,Carl,3\n');
    const last = await run(['bulk', template, deleted, ...at(), '--journal', journal, '--report', join(capture.work, 'r.csv')]);
    expect(last.status).toBe(0);
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com', 'carl@example.com', 'zed@example.com']);
    expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => `${r[1]}:${r[2]}`)).toEqual(['ann@example.com:sent', 'carl@example.com:sent']);
  });

  it('does not trust a hand-written journal line without a digest: exit 65 naming the line, nothing sent', async () => {
    const template = file('t.json', TEMPLATE);
    const journal = join(capture.work, 'run.jsonl');
    const list = file('l.csv', 'id,email,name,code\n7,ann@example.com,Ann,1\n8,bob@example.com,Bob,2\n');
    expect((await run(['bulk', template, list, ...at(), '--journal', journal])).status).toBe(0);
    expect(readFileSync(journal, 'utf8').trim().split('\n')).toHaveLength(5);
    appendFileSync(journal, '{"id":"9","state":"sent","at":"2026-12-01T00:00:00Z","code":250}\n');
    const more = file('m.csv', 'id,email,name,code\n7,ann@example.com,Ann,1\n8,bob@example.com,Bob,2\n9,carl@example.com,Carl,3\n');
    const result = await run(['bulk', template, more, ...at(), '--journal', journal]);
    expect(result.status).toBe(65);
    expect(result.stderr).toMatch(/line 6 is not trusted: no valid digest for the id "9"/);
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com']);
    expect(existsSync(`${journal}.lock`)).toBe(false);
  });

  it('sends identical rows once and reports the later ones as duplicates', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'email,name,code\nann@example.com,Ann,1\nann@example.com,Ann,1\nbob@example.com,Bob,2\n');
    const result = await run(['bulk', template, list, ...at(), '--report', join(capture.work, 'r.csv')]);
    expect(result.status).toBe(0);
    expect(recipients()).toEqual(['ann@example.com', 'bob@example.com']);
    expect(result.stdout).toMatch(/^duplicate [a-z2-7]{16} ann@example\.com - the same item as an earlier row/);
    expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => r[2])).toEqual(['sent', 'duplicate', 'sent']);
  });
});

describe('tclmail bulk: one row, one recipient', () => {
  it.each([
    ['several addresses', '"ann@example.net, evil@attacker.example"', /2 addresses in one field/],
    ['a group', '"G: a@example.net, b@example.net;"', /a group/],
    ['an empty address', '""', /no recipient/],
    ['not an address', 'not-an-address', /not an address/],
    ['a doubled @', 'bad@@example.net', /not an address/],
  ])('refuses %s before anything is sent (65), in a dry run too; --skip-invalid sends the others to their one address', async (_name, field, reason) => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', `id,email,name,code\nok,ann@example.com,Ann,1\nbad,${field},X,2\n`);
    const refused = await run(['bulk', template, list, ...at()]);
    expect(refused.status).toBe(65);
    expect(refused.stderr).toMatch(new RegExp(`row 2 \\(line 3, id bad\\): ${reason.source}`));
    const dry = await run(['bulk', template, list, ...at(), '--dry-run', join(capture.work, 'out')]);
    expect(dry.status).toBe(65);
    expect(existsSync(join(capture.work, 'out'))).toBe(false);
    expect(capture.seen).toEqual([]);
    const skipped = await run(['bulk', template, list, ...at(), '--skip-invalid', '--report', join(capture.work, 'r.csv')]);
    expect(skipped.status).toBe(1);
    expect(capture.seen.map((m) => m.to)).toEqual([['ann@example.com']]);
    expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => `${r[0]}:${r[2]}`)).toEqual(['ok:sent', 'bad:invalid']);
  });

  it('takes one mailbox with a display name and uses its address as the one RCPT', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'email,name,code\n"Ann Smith <ann@example.com>",Ann,1\n');
    expect((await run(['bulk', template, list, ...at()])).status).toBe(0);
    expect(capture.seen.map((m) => m.to)).toEqual([['ann@example.com']]);
  });

  it('refuses an empty template value unless --allow-empty', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'email,name,code\nann@example.com,,1\n');
    const refused = await run(['bulk', template, list, ...at()]);
    expect(refused.status).toBe(65);
    expect(refused.stderr).toMatch(/an empty "name", which the template uses as \{\{name\}\} \(--allow-empty to send it\)/);
    expect((await run(['bulk', template, list, ...at(), '--allow-empty'])).status).toBe(0);
    expect(readFileSync(capture.seen[0].path, 'utf8')).toMatch(/Dear ,/);
  });

  it('a dry run applies the same checks, says "written", and gives ids that would collide names of their own', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name,code\na/b,a@example.com,A,1\na_b,b@example.com,B,2\na:b,c@example.com,C,3\nA_B,d@example.com,D,4\n');
    const out = join(capture.work, 'out');
    const result = await run(['bulk', template, list, ...at().slice(0, 4), '--dry-run', out, '--progress', 'lines']);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/done: 4\/4 in \S+: written 4, refused 0, failed 0, uncertain 0/);
    expect(result.stderr).not.toMatch(/\bsent\b/);
    const names = readdirSync(out).sort();
    expect(names).toHaveLength(4);
    expect(names).toContain('a_b.eml');
    for (const name of names) expect(name).toMatch(/^[a-z0-9._~-]+\.eml$/);
  });
});

describe('tclmail bulk: the report', () => {
  it('escapes cells a spreadsheet would run as formulas', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name,code\n=HYPERLINK(1),+ann@example.com,Ann,1\n@SUM(A1),nobody@example.com,Bob,2\n-2+3,cy@example.com,Cy,3\n');
    const result = await run(['bulk', template, list, ...at(), '--report', join(capture.work, 'r.csv')]);
    expect(result.status).toBe(1);
    const rows = report(join(capture.work, 'r.csv'));
    expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([
      ["'=HYPERLINK(1)", "'+ann@example.com", 'sent'],
      ["'@SUM(A1)", 'nobody@example.com', 'refused'],
      ["'-2+3", 'cy@example.com', 'sent'],
    ]);
  });
});

describe('tclmail bulk: stopping', () => {
  it('on SIGINT stops starting messages, finishes those in flight, writes report and summary, releases the lock, exits 130; a resume sends the rest once', async () => {
    const scripted = await scriptedServer({ on: { '.': { reply: '250 2.0.0 ok', delayMs: 150 } } });
    try {
      const template = file('t.json', JSON.stringify({ from: 'a@example.com', subject: 'n', text: 'row {{id}}\n' }));
      const list = file('list.csv', `id,email\n${Array.from({ length: 30 }, (_, i) => `r${i + 1},p${i + 1}@example.com`).join('\n')}\n`);
      const journal = join(capture.work, 'run.jsonl');
      const args = ['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(scripted.port), '--concurrency', '2', '--journal', journal, '--report', join(capture.work, 'r.csv'), '--progress', 'none'];
      const child = spawn(process.execPath, [PROGRAM, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.resume();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      while (scripted.messages.length < 4) await new Promise((resolve) => setTimeout(resolve, 20));
      process.kill(child.pid!, 'SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/SIGINT: no new messages; waiting up to 30 s/);
      expect(stderr).toMatch(/SIGINT: stopped cleanly; \d+ rows not sent stay pending/);
      expect(existsSync(`${journal}.lock`)).toBe(false);
      const firstRun = scripted.messages.length;
      expect(firstRun).toBeLessThan(30);
      const rows = report(join(capture.work, 'r.csv')).slice(1);
      expect(rows.filter((r) => r[2] === 'sent')).toHaveLength(firstRun);
      expect(rows.filter((r) => r[2] === 'pending')).toHaveLength(30 - firstRun);
      expect(rows.filter((r) => r[2] === 'uncertain')).toHaveLength(0);

      const again = await run(args);
      expect(again.status).toBe(0);
      const delivered = scripted.messages.map((m) => /row (\S+)/.exec(m.data.toString('utf8'))![1]).sort();
      expect(delivered).toEqual(Array.from({ length: 30 }, (_, i) => `r${i + 1}`).sort());
    } finally {
      await scripted.close();
    }
  }, 60_000);

  it('a second SIGINT stops at once: the message past its end of data stays `sending`, and the resume reports it uncertain, never sent', async () => {
    let dots = 0;
    let stalled: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (stalled = resolve));
    let stallOn = 3;
    const scripted = await scriptedServer({
      on: {
        '.': () => {
          dots += 1;
          if (dots === stallOn) {
            stalled();
            return { stall: true };
          }
          return undefined;
        },
      },
    });
    try {
      const template = file('t.json', JSON.stringify({ from: 'a@example.com', subject: 'n', text: 'row {{id}}\n' }));
      const list = file('list.csv', `id,email\n${Array.from({ length: 6 }, (_, i) => `r${i + 1},p${i + 1}@example.com`).join('\n')}\n`);
      const journal = join(capture.work, 'run.jsonl');
      const args = ['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(scripted.port), '--concurrency', '1', '--journal', journal, '--progress', 'none'];
      const child = spawn(process.execPath, [PROGRAM, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await reached;
      process.kill(child.pid!, 'SIGINT');
      while (!stderr.includes('no new messages')) await new Promise((resolve) => setTimeout(resolve, 20));
      process.kill(child.pid!, 'SIGINT');
      expect(await exited).toBe(3);
      expect(stderr).toMatch(/SIGINT: stopped at once; 1 message in flight will be reported uncertain on the resume/);
      expect(existsSync(`${journal}.lock`)).toBe(false);
      const last = JSON.parse(readFileSync(journal, 'utf8').trim().split('\n').pop()!) as { id: string; state: string };
      expect(last).toMatchObject({ id: 'r3', state: 'sending' });

      stallOn = -1;
      const again = await run([...args, '--report', join(capture.work, 'r.csv')]);
      expect(again.status).toBe(3);
      expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => `${r[0]}:${r[2]}`)).toEqual(['r1:sent', 'r2:sent', 'r3:uncertain', 'r4:sent', 'r5:sent', 'r6:sent']);
      const delivered = scripted.received.map((m) => /row (\S+)/.exec(m.data.toString('utf8'))![1]);
      expect(delivered.filter((id) => id === 'r3')).toHaveLength(1);
    } finally {
      await scripted.close();
    }
  }, 60_000);

  it('gives up on a relay that takes no connection (exit 75): the rows stay pending and a later run sends them', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const port = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', `email,name,code\n${Array.from({ length: 50 }, (_, i) => `p${i}@example.com,P,${i}`).join('\n')}\n`);
    const journal = join(capture.work, 'run.jsonl');
    const started = Date.now();
    const dead = await run(['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(closed), '--progress', 'none', '--journal', journal, '--give-up-after', '1', '--retry-delay', '0.1', '--report', join(capture.work, 'r.csv')]);
    expect(dead.status).toBe(75);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(dead.stderr).toMatch(/gave up: every server refused or dropped the connection for 1 s/);
    expect(report(join(capture.work, 'r.csv')).slice(1).every((r) => r[2] === 'pending')).toBe(true);
    const alive = await run(['bulk', template, list, ...at(), '--journal', journal]);
    expect(alive.status).toBe(0);
    expect(capture.seen).toHaveLength(50);
  }, 40_000);
});

describe('tclmail bulk --status', () => {
  it('prints the counts as JSON, the per-item report, and --follow ends when every item is done', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('l.csv', 'id,email,name,code\n1,ann@example.com,Ann,1\n2,nobody@example.com,Nemo,2\n3,=cy@example.com,Cy,3\n');
    const journal = join(capture.work, 'spring.jsonl');
    expect((await run(['bulk', template, list, ...at(), '--journal', journal])).status).toBe(1);
    const json = await run(['bulk', '--status', 'spring', '--journal', journal, '--json', '--report', join(capture.work, 'items.csv')]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      campaign: 'spring', total: 3, done: 3, pending: 0, sending: 0, deferred: 0, sent: 2, refused: 1, failed: 0, uncertain: 0, invalid: 0, suppressed: 0, bounced: 0,
    });
    const items = report(join(capture.work, 'items.csv'));
    expect(items[0]).toEqual(['id', 'recipient', 'status', 'code', 'diagnostic', 'at']);
    expect(items.slice(1).map((r) => `${r[0]}:${r[1]}:${r[2]}:${r[3]}`).sort()).toEqual(['1:ann@example.com:sent:250', "2:nobody@example.com:refused:550", "3:'=cy@example.com:sent:250"]);
    const follow = await run(['bulk', '--status', 'spring', '--journal', journal, '--follow']);
    expect(follow).toMatchObject({ status: 0, stdout: 'spring: 3/3 done: sent 2, refused 1\n' });
    const other = await run(['bulk', template, list, ...at(), '--journal', journal, '--campaign', 'autumn']);
    expect(other.status).toBe(65);
    expect(other.stderr).toMatch(/belongs to the campaign "spring", not "autumn"; nothing was sent/);
    const wrong = await run(['bulk', '--status', 'autumn', '--journal', journal]);
    expect(wrong.status).toBe(64);
    expect(wrong.stderr).toMatch(/holds the campaign "spring", not "autumn"/);
  });
});
