/**
 * A crash cannot lose a message or send one twice. A bulk run with a journal
 * runs in a child process (spec/support/bulk-child.js) against smtp-server on
 * 127.0.0.1; the server kills it with SIGKILL at the worst moment, when it
 * holds a message's end of data and has not answered yet. The run is started
 * again with the same journal and must finish the job: every message held by
 * the server exactly once, except those reported uncertain, which it holds at
 * most once, and the one held at the kill among them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SMTPServer } from 'smtp-server';

interface Line {
  id?: string;
  status?: string;
  journaled?: boolean;
  attempts?: number;
  done?: boolean;
}

const DRIVER = path.join(__dirname, '..', '..', 'support', 'bulk-child.js');
const COUNT = 300;
const KILL_AT = 120;

let server: SMTPServer;
let port: number;
let dir: string;
const held = new Map<string, number>();
let victim: ChildProcess | null = null;
let killedHolding: string | null = null;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-crash-'));
  let total = 0;
  server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    closeTimeout: 50,
    onData(stream, session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        const id = session.envelope.mailFrom ? session.envelope.mailFrom.address.split('@')[0] : '?';
        held.set(id, (held.get(id) ?? 0) + 1);
        total++;
        if (total === KILL_AT && victim?.pid) {
          // The message is the server's now; its sender dies before the 250 can reach it.
          killedHolding = id;
          process.kill(victim.pid, 'SIGKILL');
        }
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function run(journal: string): { child: ChildProcess; finished: Promise<{ lines: Line[]; code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, [DRIVER, JSON.stringify({ port, journal, count: COUNT, concurrency: 4 })], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const finished = new Promise<{ lines: Line[]; code: number | null; signal: string | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => {
      // A line cut short by the kill is not an outcome.
      const lines = stdout.split('\n').slice(0, -1).map((l) => JSON.parse(l) as Line);
      resolve({ lines, code, signal, stderr });
    });
  });
  return { child, finished };
}

test('a run killed with SIGKILL and started again on its journal loses nothing and sends nothing twice', async () => {
  const journal = path.join(dir, 'run.jsonl');

  const first = run(journal);
  victim = first.child;
  const killed = await first.finished;
  victim = null;
  expect(killed.signal).toBe('SIGKILL');
  expect(killedHolding).not.toBeNull();
  const sentBefore = killed.lines.filter((l) => l.status === 'sent').map((l) => l.id!);
  expect(sentBefore.length).toBeGreaterThan(0);
  expect(sentBefore.length).toBeLessThan(KILL_AT);

  const second = run(journal);
  const resumed = await second.finished;
  expect(resumed.stderr).toBe('');
  expect(resumed.code).toBe(0);
  expect(resumed.lines[resumed.lines.length - 1]).toEqual({ done: true });
  const outcomes = resumed.lines.slice(0, -1);

  // One outcome per message, and every message accounted for.
  const ids = outcomes.map((o) => o.id!);
  expect(new Set(ids).size).toBe(COUNT);
  expect(ids).toHaveLength(COUNT);

  const byId = new Map(outcomes.map((o) => [o.id!, o]));
  // What the first run saw settled, the second takes from the journal.
  for (const id of sentBefore) expect(byId.get(id)).toMatchObject({ status: 'sent', journaled: true });
  // The message the server held at the kill had its end of data out and no reply back.
  expect(byId.get(killedHolding!)).toMatchObject({ status: 'uncertain', journaled: true });

  const uncertain = outcomes.filter((o) => o.status === 'uncertain').map((o) => o.id!);
  const sent = outcomes.filter((o) => o.status === 'sent').map((o) => o.id!);
  expect(sent.length + uncertain.length).toBe(COUNT);
  // At most the messages in flight at the kill are uncertain.
  expect(uncertain.length).toBeLessThanOrEqual(4);
  expect(outcomes.filter((o) => o.status === 'sent' && !o.journaled).length).toBeGreaterThan(0);
  for (const id of sent) expect([id, held.get(id) ?? 0]).toEqual([id, 1]);
  for (const id of uncertain) expect(held.get(id) ?? 0).toBeLessThanOrEqual(1);
  expect([...held.values()].every((n) => n === 1)).toBe(true);
}, 120_000);
