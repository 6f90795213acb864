/**
 * `tclmail bulk` run as a child process, as a user runs it, against the
 * capture server (in-process, refusing chosen recipients), a scripted raw
 * server that stalls at a chosen end of data (so the run can be killed there
 * and resumed on its journal), an smtp-server that checks a password, and a
 * plain listener that counts connections (a dry run must make none). The
 * progress output is checked in-process with a standard error that says it
 * is, or is not, a terminal.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { processIo } from '../../cli/args';
import { bulk } from '../../cli/commands/bulk';
import { csvLine, CsvReader, parseCsv, reportCell } from '../../cli/csv';
import { captureWork } from '../support/capture-work';
import { passwordServer } from '../support/password-server';
import { scriptedServer } from '../support/scripted-server';
import type { ScriptedServer } from '../support/scripted-server';
import { ensureBuilt, PROGRAM, run } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);

const capture = captureWork('tclmail-bulk-', { refuse: (address) => address.startsWith('nobody') });
const { file } = capture;

const TEMPLATE = JSON.stringify({ from: 'News <news@example.com>', subject: 'Hello {{name}}', text: 'Dear {{name}},\nyour code is {{code}}.\n' });
const at = (): string[] => capture.servers();

/** The report as records (the parser under test is checked on its own below). */
const report = (path: string): string[][] => parseCsv(readFileSync(path, 'utf8')).map((r) => r.fields);

describe('tclmail bulk: sending, exit statuses and the report', () => {
  it('sends one personalised message per row, exits 1 when one is refused, and reports every row', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('list.csv', 'id,email,name,code\r\nu1,ann@example.com,"Ann, ""the boss""",11\r\nu2,nobody@example.com,Nemo,22\r\nu3,cy@example.com,Cé,33\r\n');
    const result = await run(['bulk', template, list, ...at(), '--report', join(capture.work, 'r.csv'), '--progress', 'none']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('refused u2 nobody@example.com 550 5.1.1 mailbox unavailable\n');
    expect(report(join(capture.work, 'r.csv'))).toEqual([
      ['id', 'recipient', 'status', 'code', 'diagnostic'],
      ['u1', 'ann@example.com', 'sent', '', ''],
      ['u2', 'nobody@example.com', 'refused', '550', '5.1.1 mailbox unavailable'],
      ['u3', 'cy@example.com', 'sent', '', ''],
    ]);
    expect(capture.seen.map((m) => m.to).sort()).toEqual([['ann@example.com'], ['cy@example.com']]);
    const mails = await Promise.all(capture.seen.map((m) => simpleParser(readFileSync(m.path))));
    const byTo = new Map(mails.map((m) => [m.to && !Array.isArray(m.to) ? m.to.text : '', m]));
    expect(byTo.get('ann@example.com')?.subject).toBe('Hello Ann, "the boss"');
    expect(byTo.get('ann@example.com')?.text).toBe('Dear Ann, "the boss",\nyour code is 11.\n');
    expect(byTo.get('cy@example.com')?.subject).toBe('Hello Cé');
  });

  it('exits 0 when every row is sent, and 2 when none is', async () => {
    const template = file('t.json', TEMPLATE);
    const good = file('good.jsonl', '{"email":"a@example.com","name":"A","code":1}\n{"email":"b@example.com","name":"B","code":2}\n');
    const bad = file('bad.jsonl', '{"email":"nobody1@example.com","name":"A","code":1}\n{"email":"nobody2@example.com","name":"B","code":2}\n');
    // Not a terminal: plain progress lines and a summary on standard error.
    const ok = await run(['bulk', template, good, ...at()]);
    expect(ok).toMatchObject({ status: 0, stdout: '' });
    expect(ok.stderr).not.toContain('\r');
    expect(ok.stderr).toMatch(/^progress: 1\/2 .*\ndone: 2\/2 in \S+: sent 2, refused 0, failed 0, uncertain 0\n$/s);
    expect(capture.seen).toHaveLength(2);
    const none = await run(['bulk', template, bad, ...at(), '--progress', 'none']);
    expect(none.status).toBe(2);
    // Without an id column each row is named by a short digest of itself.
    expect(none.stdout.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^refused [a-z2-7]{16} nobody1@example\.com 550 5\.1\.1 mailbox unavailable$/),
      expect.stringMatching(/^refused [a-z2-7]{16} nobody2@example\.com 550 5\.1\.1 mailbox unavailable$/),
    ]);
    expect(capture.seen).toHaveLength(2);
  });

  it('refuses a row whose value holds a line break for a header (exit 65, nothing sent); --skip-invalid sends the others', async () => {
    const template = file('t.json', TEMPLATE);
    const list = file('list.csv', 'id,email,name,code\n1,a@example.com,"Eve\r\nBcc: victim@example.com",1\n2,b@example.com,Bob,2\n');
    const refused = await run(['bulk', template, list, ...at(), '--report', join(capture.work, 'r.csv'), '--progress', 'none']);
    expect(refused.status).toBe(65);
    expect(refused.stderr).toMatch(/1 invalid row; nothing was sent:\n  row 1 \(line 2, id 1\): the "name" value holds a line break/);
    expect(capture.seen).toEqual([]);
    const result = await run(['bulk', template, list, ...at(), '--report', join(capture.work, 'r.csv'), '--progress', 'none', '--skip-invalid']);
    expect(result.status).toBe(1);
    const rows = report(join(capture.work, 'r.csv'));
    expect(rows[1].slice(0, 3)).toEqual(['1', 'a@example.com', 'invalid']);
    expect(rows[1][4]).toMatch(/line break/);
    expect(rows[2].slice(0, 3)).toEqual(['2', 'b@example.com', 'sent']);
    expect(capture.seen.map((m) => m.to)).toEqual([['b@example.com']]);
    expect(readFileSync(capture.seen[0].path, 'utf8')).not.toMatch(/victim/);
  });

  it('substitutes placeholders in an .eml template (headers, text and HTML parts), escaping values in HTML', async () => {
    const eml = file('t.eml', [
      'From: news@example.com', 'To: {{name}} <{{email}}>', 'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= {{name}}', 'MIME-Version: 1.0',
      'Message-ID: <template@example.com>', 'Content-Type: multipart/alternative; boundary="b1"', '', '--b1', 'Content-Type: text/plain; charset=us-ascii', '',
      'Hi {{name}}', '--b1', 'Content-Type: text/html; charset=us-ascii', '', '<p>Hi {{name}}</p>', '--b1--', '',
    ].join('\r\n'));
    const list = file('list.csv', 'email,name\na@example.com,<b>Zoë</b>\n');
    const result = await run(['bulk', eml, list, ...at(), '--progress', 'none']);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const mail = await simpleParser(readFileSync(capture.seen[0].path));
    expect(mail.subject).toBe('Grüße <b>Zoë</b>');
    expect(mail.text?.trim()).toBe('Hi <b>Zoë</b>');
    expect(mail.html).toContain('<p>Hi &#60;b&#62;Zoë&#60;/b&#62;</p>');
    expect(capture.seen[0].to).toEqual(['a@example.com']);
    // Every message gets its own Message-ID, not the template's.
    expect(mail.messageId).toMatch(/^<.+@.+>$/);
    expect(mail.messageId).not.toBe('<template@example.com>');
  });

  it('--help prints the usage and exits 0', async () => {
    const result = await run(['bulk', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tclmail bulk TEMPLATE LIST/);
    const list = await run(['--help']);
    expect(list.stdout).toMatch(/^  bulk /m);
  });
});

describe('tclmail bulk against the fault server', () => {
  it('tries a row again after a temporary refusal of its end of data (--retries, --retry-delay) and exits 0', async () => {
    let dots = 0;
    const scripted = await scriptedServer({ on: { '.': () => (++dots === 1 ? '451 4.3.0 try again later' : undefined) } });
    try {
      const template = file('t.json', JSON.stringify({ from: 'a@example.com', subject: 'n', text: 'row {{id}}\n' }));
      const list = file('list.csv', 'id,email\nk1,p1@example.com\nk2,p2@example.com\n');
      const result = await run(['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(scripted.port), '--concurrency', '1',
        '--retries', '2', '--retry-delay', '0', '--report', join(capture.work, 'r.csv'), '--progress', 'none']);
      expect(result).toMatchObject({ status: 0, stdout: '' });
      expect(scripted.received.map((m) => m.replyCode)).toEqual([451, 250, 250]);
      expect(scripted.messages.map((m) => /row (\S+)/.exec(m.data.toString('utf8'))![1]).sort()).toEqual(['k1', 'k2']);
      expect(report(join(capture.work, 'r.csv')).slice(1).map((r) => r[2])).toEqual(['sent', 'sent']);
    } finally {
      await scripted.close();
    }
  });

  it('with --retries 0 reports the temporary refusal as failed with its code, and exits 1', async () => {
    const scripted = await scriptedServer({ on: { 'RCPT TO:<p1@example.com>': '450 4.2.1 mailbox busy' } });
    try {
      const template = file('t.json', JSON.stringify({ from: 'a@example.com', subject: 'n', text: 'row {{id}}\n' }));
      const list = file('list.csv', 'id,email\nk1,p1@example.com\nk2,p2@example.com\n');
      const result = await run(['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(scripted.port),
        '--retries', '0', '--report', join(capture.work, 'r.csv'), '--progress', 'none']);
      expect(result.status).toBe(1);
      const rows = report(join(capture.work, 'r.csv'));
      expect(rows[1].slice(0, 4)).toEqual(['k1', 'p1@example.com', 'failed', '450']);
      expect(rows[1][4]).toMatch(/mailbox busy/);
      expect(rows[2].slice(0, 3)).toEqual(['k2', 'p2@example.com', 'sent']);
    } finally {
      await scripted.close();
    }
  });
});

describe('tclmail bulk --dry-run', () => {
  it('writes the message each recipient would get and makes no connection', async () => {
    let connections = 0;
    const listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const template = file('t.json', TEMPLATE);
      const list = file('list.csv', 'id,email,name,code\nx/1,a@example.com,Ann,1\nx 2,b@example.com,Bob,2\n');
      const out = join(capture.work, 'out');
      const result = await run(['bulk', template, list, '--servers', '127.0.0.1', '--ports', String((listener.address() as AddressInfo).port),
        '--dry-run', out, '--report', join(capture.work, 'r.csv'), '--progress', 'none']);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
      const names = readdirSync(out).sort();
      expect(names).toEqual([expect.stringMatching(/^x_1~[0-9a-f]{16}\.eml$/), expect.stringMatching(/^x_2~[0-9a-f]{16}\.eml$/)]);
      const ann = await simpleParser(readFileSync(join(out, names[0])));
      expect(ann.subject).toBe('Hello Ann');
      expect(ann.to && !Array.isArray(ann.to) ? ann.to.text : '').toBe('a@example.com');
      expect(ann.text).toBe('Dear Ann,\nyour code is 1.\n');
      expect(report(join(capture.work, 'r.csv')).map((r) => r.slice(0, 3))).toEqual([
        ['id', 'recipient', 'status'], ['x/1', 'a@example.com', 'written'], ['x 2', 'b@example.com', 'written'],
      ]);
      expect(connections).toBe(0);
      expect(capture.seen).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });
});

describe('tclmail bulk --journal: resume after a crash', () => {
  let scripted: ScriptedServer;
  let stallAt = 4;
  let reachedStall: () => void = () => undefined;
  let dots = 0;

  beforeEach(async () => {
    dots = 0;
    scripted = await scriptedServer({
      on: {
        '.': () => {
          dots += 1;
          if (dots === stallAt) {
            reachedStall();
            return { stall: true };
          }
          return undefined;
        },
      },
    });
  });

  afterEach(() => scripted.close());

  const rowsOf = (messages: ScriptedServer['messages']): string[] => messages.map((m) => /row (\S+)/.exec(m.data.toString('utf8'))![1]);

  it('killed with SIGKILL while the server holds an end of data, then rerun: every row delivered once, the one in flight reported uncertain', async () => {
    const template = file('t.json', JSON.stringify({ from: 'a@example.com', subject: 'n', text: 'row {{id}}\n' }));
    const list = file('list.csv', `id,email\n${Array.from({ length: 8 }, (_, i) => `r${i + 1},p${i + 1}@example.com`).join('\n')}\n`);
    const journal = join(capture.work, 'run.journal');
    const args = ['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(scripted.port), '--concurrency', '1',
      '--journal', journal, '--report', join(capture.work, 'r.csv'), '--progress', 'none'];

    stallAt = 4;
    const stalled = new Promise<void>((resolve) => (reachedStall = resolve));
    const child = spawn(process.execPath, [PROGRAM, ...args], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      await stalled;
    } finally {
      process.kill(child.pid!, 'SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    expect(rowsOf(scripted.messages)).toEqual(['r1', 'r2', 'r3']);
    expect(existsSync(join(capture.work, 'r.csv'))).toBe(false);

    stallAt = -1;
    const again = await run(args);
    // An uncertain row wins over every other outcome.
    expect(again.status).toBe(3);
    expect(again.stdout).toMatch(/^uncertain r4 p4@example\.com - /);
    const delivered = rowsOf(scripted.messages);
    expect(delivered.sort()).toEqual(['r1', 'r2', 'r3', 'r5', 'r6', 'r7', 'r8']);
    expect(scripted.received.filter((m) => /row r4\b/.test(m.data.toString('utf8')))).toHaveLength(1);
    const rows = report(join(capture.work, 'r.csv'));
    expect(rows.slice(1).map((r) => `${r[0]}:${r[2]}`)).toEqual(['r1:sent', 'r2:sent', 'r3:sent', 'r4:uncertain', 'r5:sent', 'r6:sent', 'r7:sent', 'r8:sent']);
    expect(rows[1][4]).toMatch(/earlier run/);

    // A third run sends nothing more: everything has an outcome in the journal.
    const third = await run(args);
    expect(third.status).toBe(3);
    expect(rowsOf(scripted.messages)).toHaveLength(7);
  }, 60_000);
});

describe('tclmail bulk: the password', () => {
  it('reads it from the first line of --password-file and authenticates over STARTTLS', async () => {
    const smtpd = await passwordServer();
    try {
      const { port, cert, logins } = smtpd;
      const template = file('t.json', TEMPLATE);
      const list = file('list.csv', 'email,name,code\na@example.com,A,1\n');
      const args = ['bulk', template, list, '--servers', '127.0.0.1', '--ports', String(port), '--ca', file('ca.pem', cert), '--username', 'me', '--progress', 'none'];
      const ok = await run([...args, '--password-file', file('pw', 'correct horse\nignored\n')]);
      expect(ok.status).toBe(0);
      expect(logins.at(-1)).toEqual(['me', 'correct horse', true]);
      const wrong = await run([...args, '--password-file', file('pw2', 'wrong\n')]);
      expect(wrong.status).toBe(2);
      expect(wrong.stdout).toMatch(/^failed [a-z2-7]{16} a@example\.com 535 /);
    } finally {
      await smtpd.close();
    }
  }, 30_000);
});

describe('tclmail bulk: usage errors', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['no arguments', () => [], /expected a template and a recipient list/],
    ['a column the template needs and the list lacks', () => [file('t.json', TEMPLATE), file('l.csv', 'email,name\na@x.org,A\n')], /l\.csv: row 1 \(line 2\) has no field "code", which the template uses as \{\{code\}\}/],
    ['an unclosed quote', () => [file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@x.org,"A,1\n')], /l\.csv: line 2: a quoted field is not closed/],
    ['a row with too many fields', () => [file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@x.org,A,1,extra\n')], /row 1 \(line 2\) has 4 fields; the header has 3/],
    ['a missing template', () => [join(capture.work, 'nope.json'), file('l.csv', 'email\na@x.org\n')], /nope\.json: no such file/],
    ['a password on the command line', () => [file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@x.org,A,1\n'), '--password', 'x'], /--password is not accepted/],
    ['a bad --rate', () => [file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@x.org,A,1\n'), '--rate', 'fast'], /--rate expects a positive number, not "fast"/],
  ];

  it.each(cases)('%s exits 64 with its message and sends nothing', async (_name, args, message) => {
    const result = await run(['bulk', ...args(), ...at()]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Run 'tclmail bulk --help' for usage\./);
    expect(capture.seen).toEqual([]);
  });
});

describe('CSV, as RFC 4180 has it', () => {
  it('reads quotes, doubled quotes, commas and line breaks inside quotes, CRLF and LF', () => {
    const text = '\uFEFFa,b,c\r\n"x, y","say ""hi""","two\r\nlines"\n1,,"3"\r\n\r\nlast,"",z';
    expect(parseCsv(text)).toEqual([
      { fields: ['a', 'b', 'c'], line: 1 },
      { fields: ['x, y', 'say "hi"', 'two\r\nlines'], line: 2 },
      { fields: ['1', '', '3'], line: 4 },
      { fields: ['last', '', 'z'], line: 6 },
    ]);
  });

  it('refuses a quote in an unquoted field and text after a closing quote', () => {
    expect(() => parseCsv('a,b"c\n')).toThrow(/line 1: a quote inside an unquoted field/);
    expect(() => parseCsv('a\n"b"c\n')).toThrow(/line 2: a closing quote must be followed/);
  });

  it('reads the same records when the text comes in pieces of any size (the list is read as a stream)', () => {
    const text = '\uFEFFa,b,c\r\n"x, y","say ""hi""","two\r\nlines"\n1,,"3"\r\n\r\nlast,"",z\nlone\rcr,q,"e"';
    const whole = parseCsv(text);
    for (let size = 1; size <= text.length; size++) {
      const reader = new CsvReader();
      const records = [];
      for (let i = 0; i < text.length; i += size) records.push(...reader.push(text.slice(i, i + size)));
      records.push(...reader.end());
      expect([size, records]).toEqual([size, whole]);
    }
    expect(() => new CsvReader().push('a,b"c\n')).toThrow(/line 1: a quote inside an unquoted field/);
    expect(() => {
      const reader = new CsvReader();
      reader.push('a\n"open');
      reader.end();
    }).toThrow(/line 2: a quoted field is not closed/);
  });

  it('escapes report cells that a spreadsheet would take for a formula', () => {
    expect(['=1+2', '+x', '-3', '@SUM(A1)', '\tx', '\rx', 'plain', "'quoted", ''].map(reportCell)).toEqual(["'=1+2", "'+x", "'-3", "'@SUM(A1)", "'\tx", "'\rx", 'plain', "'quoted", '']);
  });

  it('writes fields that read back the same', () => {
    const values = ['plain', 'with, comma', 'say "hi"', 'two\nlines', ' edge ', ''];
    const written = csvLine(values);
    expect(written).toBe('plain,"with, comma","say ""hi""","two\nlines"," edge ",\r\n');
    expect(parseCsv(written)[0].fields).toEqual(values);
  });
});

const hasScript = existsSync('/usr/bin/script');
const describeWithScript = hasScript ? describe : describe.skip;

describeWithScript('tclmail bulk under a pseudo-terminal (script -qec)', () => {
  it('draws the progress bar with CR, then the summary', async () => {
    const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
    const words = [process.execPath, PROGRAM, 'bulk', file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@example.com,A,1\nb@example.com,B,2\n'), ...at()];
    const output = await new Promise<{ status: number | null; text: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/script', ['-qec', words.map(quote).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, text }));
      child.stdin.end();
    });
    expect(output.status).toBe(0);
    expect(output.text).toMatch(/\r\[#{24}\] 2\/2 [\d.]+ msg\/s sent 2 refused 0 failed 0 uncertain 0 ETA 0s\x1b\[K/);
    expect(output.text).toMatch(/done: 2\/2 in \S+: sent 2, refused 0, failed 0, uncertain 0/);
    expect(output.text).not.toMatch(/^progress: /m);
    expect(capture.seen).toHaveLength(2);
  });
});

describe('tclmail bulk: progress output', () => {
  function io(isTTY: boolean): { io: ReturnType<typeof processIo>; err: () => string } {
    let text = '';
    const stderr = Object.assign(new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }), { isTTY });
    const stdout = new Writable({ write(_chunk, _enc, done) { done(); } });
    return { io: { ...processIo(), stdout, stderr }, err: () => text };
  }

  const args = (): string[] => [file('t.json', TEMPLATE), file('l.csv', 'email,name,code\na@example.com,A,1\nnobody@example.com,N,2\nb@example.com,B,3\n'), ...at()];

  it('on a terminal redraws one line with CR: a bar, the rate, the counts and the ETA', async () => {
    const t = io(true);
    expect(await bulk.run(args(), t.io)).toBe(1);
    const text = t.err();
    expect(text).toMatch(/^\r\[[#-]{24}\] \d\/3 [\d.]+ msg\/s sent \d refused \d failed 0 uncertain 0 ETA \S+\x1b\[K/);
    expect(text).toMatch(/\r\[#{24}\] 3\/3 [\d.]+ msg\/s sent 2 refused 1 failed 0 uncertain 0 ETA 0s\x1b\[K\n/);
    expect(text).toMatch(/\ndone: 3\/3 in \S+: sent 2, refused 1, failed 0, uncertain 0\n$/);
  });

  it('elsewhere writes plain lines, no CR, and the summary', async () => {
    const t = io(false);
    expect(await bulk.run(args(), t.io)).toBe(1);
    const text = t.err();
    expect(text).not.toContain('\r');
    expect(text).toMatch(/^progress: 1\/3 [\d.]+ msg\/s sent \d refused \d failed 0 uncertain 0 ETA \S+\n/);
    expect(text).toMatch(/done: 3\/3 in \S+: sent 2, refused 1, failed 0, uncertain 0\n$/);
  });
});
