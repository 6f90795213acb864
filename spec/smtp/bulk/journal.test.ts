/**
 * The write-ahead journal of smtp.sendmany: lines on disk when the promise
 * resolves, the latest line per id read back on a restart, a torn tail cut
 * off, damage refused, one run per journal at a time; and the session hook it
 * rests on, `beforeEndOfData`, which runs after the last byte of the message
 * and before the end of data, and stops the message when it throws.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Journal, JournalError } from '../../../smtp/bulk/journal';
import { connect } from '../../../smtp/protocol/session';
import { SmtpError } from '../../../lib/errors';
import { tracked } from '../../support/fixtures';
import { scriptedServer } from '../../support/scripted-server';

let dir: string;
const journals: Journal[] = [];
const track = tracked();

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-journal-'));
});

afterEach(async () => {
  await Promise.all(journals.splice(0).map((j) => j.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function openJournal(file: string): Promise<Journal> {
  const journal = await Journal.open(file);
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

describe('Journal', () => {
  it('writes one JSON line per step, on disk when the promise resolves, and reads back the latest line per id', async () => {
    const file = path.join(dir, 'run.jsonl');
    const journal = await openJournal(file);
    await journal.sending('a');
    expect(lines(file)).toEqual([{ id: 'a', state: 'sending', at: expect.any(String) }]);
    await journal.outcome('a', 'sent', { rejected: [['x@y.org', 550, '5.1.1 no such user']] });
    await journal.sending('b');
    await journal.deferred('b', new SmtpError('ESMTP', 'dot', '451 try later', { replyCode: 451 }));
    await journal.outcome('c', 'refused', { error: new SmtpError('ESMTP', 'mail', '550: no', { replyCode: 550 }) });
    await journal.sending('d');
    await journal.close();
    journals.splice(0);

    const again = await openJournal(file);
    expect(again.size).toBe(4);
    expect(again.entry('a')).toEqual({ state: 'sent', rejected: [['x@y.org', 550, '5.1.1 no such user']], error: undefined });
    expect(again.entry('b')?.state).toBe('deferred');
    expect(again.entry('c')).toMatchObject({ state: 'refused', error: { code: 'ESMTP', reply: 550, message: '550: no' } });
    expect(again.entry('d')?.state).toBe('sending');
    expect(again.entry('e')).toBeUndefined();
  });

  it('puts every line of concurrent steps in the file, each whole', async () => {
    const file = path.join(dir, 'run.jsonl');
    const journal = await openJournal(file);
    await Promise.all(Array.from({ length: 200 }, (_, i) => journal.sending(`m${i}`).then(() => journal.outcome(`m${i}`, 'sent'))));
    const written = lines(file);
    expect(written).toHaveLength(400);
    for (let i = 0; i < 200; i++) {
      const states = written.filter((l) => l.id === `m${i}`).map((l) => l.state);
      expect(states).toEqual(['sending', 'sent']);
    }
  });

  it('cuts off a torn last line (a crash during a write) and appends after the last whole line', async () => {
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, '{"id":"a","state":"sent"}\n{"id":"b","state":"sending"}\n{"id":"c","sta');
    const journal = await openJournal(file);
    expect(journal.entry('b')?.state).toBe('sending');
    expect(journal.entry('c')).toBeUndefined();
    await journal.sending('c');
    expect(lines(file).map((l) => `${l.id}:${l.state}`)).toEqual(['a:sent', 'b:sending', 'c:sending']);
  });

  it('refuses a journal with a damaged line before good ones, and a line that is not a journal line', async () => {
    const file = path.join(dir, 'run.jsonl');
    fs.writeFileSync(file, '{"id":"a","state":"sent"}\nnot json\n{"id":"b","state":"sent"}\n');
    await expect(Journal.open(file)).rejects.toThrow(/line 2 is not a journal line/);
    fs.writeFileSync(file, '{"id":"a","state":"delivered"}\n{"id":"b","state":"sent"}\n');
    await expect(Journal.open(file)).rejects.toBeInstanceOf(JournalError);
    // A refused journal leaves no lock behind.
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('keeps a second run off a journal in use, and takes over the lock of a run that died', async () => {
    const file = path.join(dir, 'run.jsonl');
    const first = await openJournal(file);
    await expect(Journal.open(file)).rejects.toThrow(/already open in this process/);
    await first.close();
    journals.splice(0);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);

    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(`${file}.lock`, gone.stdout);
    const second = await openJournal(file);
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
    await second.sending('a');
    expect(second.entry('a')?.state).toBe('sending');
  });

  it('fails every later write once a write has failed, naming the journal, and refuses writes after close', async () => {
    const file = path.join(dir, 'run.jsonl');
    const journal = await openJournal(file);
    await journal.sending('a');
    // Pull the file out from under it, as a failing disk would.
    await (journal as unknown as { handle: fs.promises.FileHandle }).handle.close();
    const first = await journal.outcome('a', 'sent').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(JournalError);
    expect((first as Error).message).toContain(file);
    expect(journal.broken).toBe(first);
    await expect(journal.sending('b')).rejects.toBe(first);

    const other = await openJournal(path.join(dir, 'other.jsonl'));
    await other.close();
    await expect(other.sending('a')).rejects.toThrow(/closed/);
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
