/**
 * The journal lock under a race: two processes open one journal at the same
 * instant, 100 times; exactly one proceeds each time. Every other round
 * starts from the stale lock of a process that died, so the take-over is
 * raced as well. The contenders are child processes (spec/support/lock-child.js)
 * driven over IPC; the parent only checks the lock file between rounds.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CHILD = path.join(__dirname, '..', '..', 'support', 'lock-child.js');
const ROUNDS = 100;

interface Message {
  type: string;
  round?: number;
  ok?: boolean;
  error?: string;
}

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-lock-'));
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

function contender(): { child: ChildProcess; next: (type: string) => Promise<Message> } {
  const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  const inbox: Message[] = [];
  const waiting: Array<{ type: string; resolve: (m: Message) => void }> = [];
  child.on('message', (m: Message) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
    else inbox.push(m);
  });
  return {
    child,
    next: (type) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve) => waiting.push({ type, resolve }));
    },
  };
}

test(`two runs opening one journal at the same instant: exactly one proceeds, ${ROUNDS} times out of ${ROUNDS}`, async () => {
  const file = path.join(dir, 'run.jsonl');
  const a = contender();
  const b = contender();
  await Promise.all([a.next('ready'), b.next('ready')]);
  const gone = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const winners: string[] = [];
  const refusals = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 1) {
      // A run that died holding the lock: both contenders find it stale.
      fs.writeFileSync(`${file}.lock`, JSON.stringify({ host: os.hostname(), bootId, pid: gone, start: '1', at: new Date().toISOString() }));
    }
    const at = Date.now() + 40;
    for (const c of [a, b]) c.child.send({ type: 'go', round, at, file });
    const [ra, rb] = await Promise.all([a.next('result'), b.next('result')]);
    const ok = [ra, rb].filter((r) => r.ok);
    expect([round, ok.length]).toEqual([round, 1]);
    const loser = ra.ok ? rb : ra;
    refusals.add(loser.error!.replace(/\d+/g, 'N').replace(/ on \S+ since \S+/, ''));
    const holder = ra.ok ? a : b;
    winners.push(ra.ok ? 'a' : 'b');
    expect(JSON.parse(fs.readFileSync(`${file}.lock`, 'utf8')).pid).toBe(holder.child.pid);
    holder.child.send({ type: 'release', round });
    await holder.next('released');
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  }
  for (const c of [a, b]) c.child.send({ type: 'exit' });
  // Every refusal was the lock's, with its reason.
  for (const text of refusals) expect(text).toMatch(/^JournalLockError: journal .*: (in use by process N|another run is taking over the stale lock)/);
  expect(fs.readdirSync(dir).filter((name) => name !== 'run.jsonl')).toEqual([]);
}, 120_000);
