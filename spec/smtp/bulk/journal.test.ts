/**
 * The file ledger: the manifest first, lines with id, digest and time on disk
 * when the promise resolves, the latest line per id read back through the
 * compact index, changed items told from known ones, a torn tail cut off,
 * untrusted lines refused by number, one run per journal (the lock); and the session hook it
 * rests on, `beforeEndOfData`, which runs after the last byte of the message
 * and before the end of data, and stops the message when it throws.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { FileLedger, JournalError, JournalLineError, JournalLockError, openLedgerForStatus } from '../../../smtp/bulk/journal';
import type { FileLedgerOptions } from '../../../smtp/bulk/journal';
import { connect } from '../../../smtp/protocol/session';
import { SmtpError } from '../../../lib/errors';
import { tracked } from '../../support/fixtures';
import { scriptedServer } from '../../support/scripted-server';

let dir: string;
const journals: FileLedger[] = [];
const track = tracked();

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-journal-'));
});

afterEach(async () => {
  await Promise.all(journals.splice(0).map((j) => j.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openJournal(file: string, options: FileLedgerOptions = {}): Promise<FileLedger> {
  const journal = await FileLedger.open(file, options);
  journals.push(journal);
  return journal;
}

function lines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const D = (n: number | string): string => createHash('sha256').update(String(n)).digest('hex');
const MANIFEST = (campaign = 'run'): string => JSON.stringify({ type: 'manifest', campaign, listDigest: '', total: 0, createdAt: '2026-12-01T00:00:00Z', at: '2026-12-01T00:00:00Z' });
const LINE = (id: string, state: string, extra: object = {}): string => JSON.stringify({ id, digest: D(id), state, at: '2026-12-01T00:00:01Z', ...extra });

describe('FileLedger', () => {
  it('writes the manifest first, then one line per step with id, digest, time and, for outcomes, the reply code; reads them back', async () => {
    const file = path.join(dir, 'spring.jsonl');
    const journal = await openJournal(file, { list: { listDigest: D('list'), total: 5 } });
    expect(lines(file)).toEqual([{ type: 'manifest', campaign: 'spring', listDigest: D('list'), total: 5, createdAt: expect.any(String), at: expect.any(String) }]);
    expect(await journal.admit('a', D('a'), 'a@x.org')).toEqual({ match: 'new', state: 'pending', duplicate: false });
    await journal.markSending('a');
    expect(lines(file)[1]).toEqual({ id: 'a', digest: D('a'), state: 'sending', at: expect.any(String), recipient: 'a@x.org' });
    await journal.markOutcome('a', { state: 'sent', code: 250, rejected: [['x@y.org', 550, '5.1.1 no such user']] });
    await journal.admit('b', D('b'));
    await journal.markSending('b');
    await journal.markDeferred('b', { code: 451, diagnostic: '451 try later', dueMs: 5 });
    await journal.admit('c', D('c'));
    await journal.markOutcome('c', { state: 'refused', code: 550, diagnostic: '550 no' });
    await journal.admit('d', D('d'));
    await journal.markSending('d');
    expect(lines(file).slice(1).map((l) => `${l.id}:${l.state}:${l.code}`)).toEqual(['a:sending:undefined', 'a:sent:250', 'b:sending:undefined', 'b:deferred:451', 'c:refused:550', 'd:sending:undefined']);
    await journal.close();
    journals.splice(0);

    const again = await openJournal(file);
    expect(again.manifest).toMatchObject({ campaign: 'spring', total: 5 });
    expect(await again.lookup('a')).toMatchObject({ id: 'a', digest: D('a'), state: 'sent', code: 250, rejected: [['x@y.org', 550, '5.1.1 no such user']], recipient: 'a@x.org' });
    expect(again.stateOf('b')).toBe('deferred');
    expect(await again.lookup('c')).toMatchObject({ state: 'refused', code: 550, diagnostic: '550 no' });
    expect(again.stateOf('d')).toBe('sending');
    expect(await again.lookup('e')).toBeUndefined();
    expect(await again.counts()).toMatchObject({ campaign: 'spring', total: 5, sent: 1, refused: 1, deferred: 1, sending: 1, pending: 1, done: 2 });
    const listed: string[] = [];
    for await (const item of again.items()) listed.push(`${item.id}:${item.state}`);
    expect(listed).toEqual(['a:sent', 'b:deferred', 'c:refused', 'd:sending']);
    const refused: string[] = [];
    for await (const item of again.items({ states: ['refused'] })) refused.push(item.id);
    expect(refused).toEqual(['c']);
  });

  it('tells a known item from a changed one, records a new digest only when the change is accepted, and admits an id once per run', async () => {
    const file = path.join(dir, 'run.jsonl');
    const first = await openJournal(file);
    await first.admit('a', D('a'));
    await first.markOutcome('a', { state: 'sent', code: 250 });
    await first.admit('b', D('b'));
    await first.markSending('b');
    expect(await first.admit('a', D('a'))).toMatchObject({ duplicate: true });
    await first.close();
    journals.splice(0);

    const second = await openJournal(file);
    expect(second.check('a', D('a'))).toEqual({ match: 'same', state: 'sent' });
    expect(second.check('a', D('other'))).toEqual({ match: 'changed', state: 'sent' });
    expect(second.check('z', D('z'))).toEqual({ match: 'new', state: 'pending' });
    expect(await second.admit('a', D('other'))).toEqual({ match: 'changed', state: 'sent', duplicate: false });
    expect(lines(file)).toHaveLength(3);
    expect(await second.admit('b', D('b2'), undefined, { acceptChanged: true })).toEqual({ match: 'changed', state: 'sending', duplicate: false });
    await second.markUncertain('b');
    await second.close();
    journals.splice(0);

    const third = await openJournal(file);
    expect(third.check('b', D('b2'))).toEqual({ match: 'same', state: 'uncertain' });
    expect(await third.admit('a', D('a2'), undefined, { acceptChanged: true })).toMatchObject({ match: 'changed', state: 'sent' });
    expect(lines(file).at(-1)).toMatchObject({ id: 'a', digest: D('a2'), state: 'sent', code: 250 });
    expect(third.check('a', D('a2')).match).toBe('same');
  });

  it('indexes many items compactly and finds each again after a reopen', async () => {
    const file = path.join(dir, 'big.jsonl');
    const text = [MANIFEST('big')];
    for (let i = 0; i < 30_000; i++) {
      text.push(LINE(`m${i}`, 'sending'));
      if (i % 3 !== 0) text.push(LINE(`m${i}`, i % 3 === 1 ? 'sent' : 'failed', { code: i % 3 === 1 ? 250 : null }));
    }
    fs.writeFileSync(file, text.join('\n') + '\n');
    const journal = await openJournal(file);
    expect(journal.size).toBe(30_000);
    expect(await journal.counts()).toMatchObject({ total: 30_000, sending: 10_000, sent: 10_000, failed: 10_000, pending: 0 });
    for (const i of [0, 1, 2, 12_345, 29_999]) expect(journal.stateOf(`m${i}`)).toBe(['sending', 'sent', 'failed'][i % 3]);
    expect(journal.check('m5', D('m5')).match).toBe('same');
    expect(journal.check('m5', D('x')).match).toBe('changed');
    expect(journal.stateOf('m30000')).toBeUndefined();
  });

  it('puts every line of concurrent steps in the file, each whole', async () => {
    const file = path.join(dir, 'run.jsonl');
    const journal = await openJournal(file);
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await journal.admit(`m${i}`, D(i));
        await journal.markSending(`m${i}`);
        await journal.markOutcome(`m${i}`, { state: 'sent', code: 250 });
      }),
    );
    const written = lines(file).slice(1);
    expect(written).toHaveLength(400);
    for (let i = 0; i < 200; i++) expect(written.filter((l) => l.id === `m${i}`).map((l) => l.state)).toEqual(['sending', 'sent']);
  });

  it('cuts off a torn last line (a crash during a write) and appends after the last whole line', async () => {
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, `${MANIFEST()}\n${LINE('a', 'sent', { code: 250 })}\n${LINE('b', 'sending')}\n{"id":"c","sta`);
    const journal = await openJournal(file);
    expect(journal.stateOf('b')).toBe('sending');
    expect(journal.stateOf('c')).toBeUndefined();
    await journal.admit('c', D('c'));
    await journal.markSending('c');
    expect(lines(file).map((l) => `${l.id}:${l.state}`)).toEqual(['undefined:undefined', 'a:sent', 'b:sending', 'c:sending']);
  });

  it.each([
    ['a line that is not JSON', `${MANIFEST()}\n${LINE('a', 'sent', { code: 250 })}\nnot json\n${LINE('b', 'sent', { code: 250 })}\n`, /line 3 is not trusted: not JSON/],
    ['a hand-written line without a digest', `${MANIFEST()}\n{"id":"7","state":"sent","at":"2026-12-01T00:00:00Z","code":250}\n`, /line 2 is not trusted: no valid digest for the id "7"/],
    ['a line with a digest too short to be one', `${MANIFEST()}\n{"id":"7","digest":"abc","state":"sent","at":"2026-12-01T00:00:00Z","code":250}\n`, /line 2 is not trusted: no valid digest/],
    ['an unknown state', `${MANIFEST()}\n${LINE('a', 'delivered')}\n`, /line 2 is not trusted: an unknown state "delivered"/],
    ['an outcome without its reply code', `${MANIFEST()}\n${LINE('a', 'sent')}\n`, /line 2 is not trusted: an outcome without its reply code/],
    ['a line without a time', `${MANIFEST()}\n{"id":"a","digest":"${D('a')}","state":"sending"}\n`, /line 2 is not trusted: no time/],
    ['a journal of an older tclmail (no manifest)', `{"id":"a","state":"sent"}\n`, /line 1 is not trusted: no time|line 1 is not trusted/],
    ['a first line that is an item', `${LINE('a', 'sending')}\n`, /line 1 is not trusted: the first line must be the manifest/],
  ])('refuses %s with a JournalLineError naming the line, and leaves no lock', async (_name, text, message) => {
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, text);
    const error = await FileLedger.open(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLineError);
    expect(error).toBeInstanceOf(JournalError);
    expect((error as Error).message).toMatch(message);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it('refuses a journal of another campaign', async () => {
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, `${MANIFEST('autumn')}\n`);
    await expect(FileLedger.open(file, { campaign: 'spring' })).rejects.toThrow(/belongs to the campaign "autumn", not "spring"/);
  });

  it('locks the journal: the lock names host, boot id, PID and start time; a second open is refused; a dead owner\'s lock is taken over', async () => {
    const file = path.join(dir, 'run.jsonl');
    const first = await openJournal(file);
    const owner = JSON.parse(fs.readFileSync(`${file}.lock`, 'utf8')) as Record<string, unknown>;
    expect(owner).toEqual({ host: os.hostname(), bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pid: process.pid, start: expect.stringMatching(/^\d+$/), at: expect.any(String) });
    await expect(FileLedger.open(file)).rejects.toThrow(/already open in this process/);
    await first.close();
    journals.splice(0);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);

    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ ...owner, pid: Number(gone.stdout) }));
    const second = await openJournal(file);
    expect(JSON.parse(fs.readFileSync(`${file}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    await second.close();
    journals.splice(0);

    // A live PID whose start time differs is a recycled PID: its owner is gone too.
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ ...owner, pid: process.ppid, start: '1' }));
    await (await openJournal(file)).close();
    journals.splice(0);
  });

  it('refuses on any doubt (another host, another boot, an unreadable lock) naming --break-lock, and breakLock takes it', async () => {
    const file = path.join(dir, 'run.jsonl');
    const me = { host: os.hostname(), bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pid: 999_999, start: '5', at: '2026-12-01T00:00:00Z' };
    for (const lock of [JSON.stringify({ ...me, host: 'elsewhere.example' }), JSON.stringify({ ...me, bootId: 'another-boot' }), '', '12345']) {
      fs.writeFileSync(`${file}.lock`, lock);
      const error = await FileLedger.open(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JournalLockError);
      expect((error as Error).message).toMatch(/--break-lock/);
    }
    const broken = await openJournal(file, { breakLock: true });
    expect(JSON.parse(fs.readFileSync(`${file}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    await broken.close();
  });

  it('reads a journal in use without its lock, for a status', async () => {
    const file = path.join(dir, 'run.jsonl');
    const writer = await openJournal(file, { list: { listDigest: D('l'), total: 3 } });
    await writer.admit('a', D('a'));
    await writer.markOutcome('a', { state: 'sent', code: 250 });
    const reader = await openLedgerForStatus(file);
    expect(await reader.counts()).toMatchObject({ campaign: 'run', total: 3, sent: 1, pending: 2, done: 1 });
    await expect(reader.markSending('a')).rejects.toThrow();
    await reader.close();
    expect(fs.existsSync(`${file}.lock`)).toBe(true);
  });

  it('fails every later write once a write has failed, naming the journal, and refuses writes after close', async () => {
    const file = path.join(dir, 'run.jsonl');
    const journal = await openJournal(file);
    await journal.admit('a', D('a'));
    await journal.markSending('a');
    // Pull the file out from under it, as a failing disk would.
    await (journal as unknown as { handle: fs.promises.FileHandle }).handle.close();
    const first = await journal.markOutcome('a', { state: 'sent', code: 250 }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(JournalError);
    expect((first as Error).message).toContain(file);
    expect(journal.broken).toBe(first);
    await journal.admit('b', D('b'));
    await expect(journal.markSending('b')).rejects.toBe(first);

    const other = await openJournal(path.join(dir, 'other.jsonl'));
    await other.admit('a', D('a'));
    await other.close();
    await expect(other.markSending('a')).rejects.toThrow(/closed/);
  });
});

describe('session.sendmail beforeEndOfData (the hook the journal rests on)', () => {
  const server = track.opener(scriptedServer);

  it('runs once the whole message was written and before the end of data, which waits for it', async () => {
    const srv = await server();
    const session = await connect({ server: '127.0.0.1', port: srv.port, client: 'localhost' });
    const body = 'Subject: hook\r\n\r\n' + 'line of text\r\n'.repeat(5000);
    let seenAtHook: { lines: string[]; received: number } | null = null;
    await session.sendmail('a@x.org', ['b@y.org'], body, {
      beforeEndOfData: async () => {
        // Give the server time to read every byte written so far.
        await new Promise((resolve) => setTimeout(resolve, 50));
        seenAtHook = { lines: [...srv.conns[0].lines], received: srv.received.length };
      },
    });
    await session.quit();
    expect(seenAtHook).toEqual({
      lines: [expect.stringMatching(/^EHLO /), expect.stringMatching(/^MAIL FROM:<a@x\.org>/), 'RCPT TO:<b@y.org>', 'DATA'],
      received: 0,
    });
    expect(srv.messages).toHaveLength(1);
    expect(srv.messages[0].data.toString('latin1')).toBe(body);
  });

  it('abandons the message when the hook throws: no end of data, the connection closed, ESOURCE', async () => {
    const srv = await server();
    const session = await connect({ server: '127.0.0.1', port: srv.port, client: 'localhost' });
    const error = (await session
      .sendmail('a@x.org', ['b@y.org'], 'Subject: x\r\n\r\nbody\r\n', {
        beforeEndOfData: () => {
          throw new Error('disk full');
        },
      })
      .catch((e: unknown) => e)) as SmtpError;
    expect(error).toBeInstanceOf(SmtpError);
    expect(error.code).toBe('ESOURCE');
    expect(error.message).toMatch(/disk full/);
    expect(session.state).toBe('closed');
    await srv.closedConnection(0);
    expect(srv.conns[0].lines).not.toContain('.');
    expect(srv.received).toHaveLength(0);
  });
});
