/**
 * Chaos: a 1,000-message run against a scripted server that drops the
 * connection, closes it with 421, or answers 4xx or 5xx at random stages
 * (greeting, EHLO, MAIL, RCPT, DATA, in the middle of the body, after the end
 * of data, RSET). The run is stopped half way and resumed on its journal, as
 * an operator would after a crash. The dice are seeded and thrown per message,
 * try and stage, so a run meets the same faults whatever the interleaving.
 *
 * The invariant: every message gets one honest outcome, and the server holds
 * each message reported sent exactly once, each reported uncertain at most
 * once, and none reported refused or failed. A message whose end of data the
 * server kept without answering counts as held: that is what makes a resend a
 * duplicate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mime from '../../../mime';
import { type BulkOutcome, sendmany } from '../../../smtp/bulk/sendmany';
import { type ActionFunction, scriptedServer, type ScriptedServer } from '../../support/scripted-server';

const COUNT = 1000;
const SEED = 0x7c1a11;

/** A number in [0, 1) from the seed and the parts (FNV-1a, then a final mix). */
function dice(...parts: Array<string | number>): number {
  let h = 0x811c9dc5 ^ SEED;
  for (const ch of parts.join('|')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 2 ** 32;
}

const idOf = (address: string | null): string => (address ?? '').split('@')[0];

let srv: ScriptedServer;
let dir: string;
const tokens: mime.Token[] = [];
/** MAIL commands seen per message: its try number, as the server counts. */
const tries = new Map<string, number>();
const faults = new Map<string, number>();

function fault(name: string): void {
  faults.set(name, (faults.get(name) ?? 0) + 1);
}

function chaos(stage: string, pick: (roll: number) => ReturnType<ActionFunction> | undefined): ActionFunction {
  return (line, conn) => {
    let roll: number;
    if (stage === 'MAIL') {
      const id = idOf(/<([^>]*)>/.exec(line)?.[1] ?? null);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      roll = dice(id, n, stage);
    } else if (conn.mailFrom !== null && stage !== 'EHLO' && stage !== 'greeting') {
      const id = idOf(conn.mailFrom);
      roll = dice(id, tries.get(id) ?? 0, stage);
    } else {
      roll = dice('connection', conn.index, conn.lines.length, stage);
    }
    const action = pick(roll);
    if (action !== undefined) fault(stage);
    return action;
  };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-chaos-'));
  srv = await scriptedServer({
    greeting: chaos('greeting', (r) => (r < 0.02 ? { drop: true } : r < 0.03 ? '554 5.3.2 not now' : undefined)),
    on: {
      EHLO: chaos('EHLO', (r) => (r < 0.02 ? { drop: true } : r < 0.03 ? '421 4.3.2 shutting down' : undefined)),
      MAIL: chaos('MAIL', (r) => (r < 0.02 ? { drop: true } : r < 0.04 ? '451 4.3.0 try again later' : r < 0.05 ? '421 4.3.2 closing' : undefined)),
      RCPT: chaos('RCPT', (r) => (r < 0.02 ? { drop: true } : r < 0.04 ? '450 4.2.1 mailbox busy' : undefined)),
      DATA: chaos('DATA', (r) => (r < 0.02 ? { drop: true } : r < 0.03 ? '451 4.3.0 not now' : r < 0.05 ? { reply: '354 go ahead', drop: true } : undefined)),
      '.': chaos('.', (r) => (r < 0.03 ? { drop: true } : r < 0.05 ? '451 4.3.0 try again' : r < 0.06 ? '554 5.6.0 content rejected' : undefined)),
      RSET: chaos('RSET', (r) => (r < 0.3 ? { drop: true } : undefined)),
    },
  });
});

afterAll(async () => {
  await srv.close();
  for (const tok of tokens.splice(0)) mime.finalize(tok, { subordinates: 'all' });
  fs.rmSync(dir, { recursive: true, force: true });
});

function* source(): Generator<{ token: mime.Token; id: string }> {
  for (let i = 0; i < COUNT; i++) {
    const id = `c${String(i).padStart(4, '0')}`;
    const token = mime.initialize({
      canonical: 'text/plain',
      string: `Chaos ${id}.\r\n`,
      header: [
        ['From', `${id}@x.test`],
        ['To', 'all@y.test'],
        ['Subject', `Chaos ${id}`],
      ],
    });
    tokens.push(token);
    yield { token, id };
  }
}

test('1,000 messages through random drops, stopped and resumed: each held once if sent, at most once if uncertain, never if not', async () => {
  const journal = path.join(dir, 'run.jsonl');
  // More messages in flight than sessions: most messages go out pipelined behind another's end of data.
  const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, concurrency: 8, maxConnections: 3, retries: 12, retryDelay: 0.001, maxRetryDelay: 0.004, journal };

  const firstRun: BulkOutcome[] = [];
  for await (const o of sendmany(source(), options)) {
    firstRun.push(o);
    if (firstRun.length === COUNT / 2) break;
  }
  const resumed: BulkOutcome[] = [];
  for await (const o of sendmany(source(), options)) resumed.push(o);

  // One outcome per message in the finished run.
  expect(resumed).toHaveLength(COUNT);
  const final = new Map(resumed.map((o) => [o.id, o]));
  expect(final.size).toBe(COUNT);

  // What the first run reported, the journal kept.
  for (const o of firstRun) expect([o.id, final.get(o.id)?.status, final.get(o.id)?.journaled]).toEqual([o.id, o.status, true]);

  const heldCount = new Map<string, number>();
  for (const m of srv.received) {
    if (m.replyCode === 0 || (m.replyCode >= 200 && m.replyCode < 300)) heldCount.set(idOf(m.mailFrom), (heldCount.get(idOf(m.mailFrom)) ?? 0) + 1);
  }
  const wrong: string[] = [];
  for (const [id, o] of final) {
    const n = heldCount.get(id) ?? 0;
    const ok = o.status === 'sent' ? n === 1 : o.status === 'uncertain' ? n <= 1 : n === 0;
    if (!ok) wrong.push(`${id} ${o.status} held ${n}`);
  }
  expect(wrong).toEqual([]);
  expect([...heldCount.keys()].every((id) => final.has(id))).toBe(true);

  // The chaos did happen, at every stage, and was survived by retries.
  const counts = { sent: 0, refused: 0, failed: 0, uncertain: 0, duplicate: 0 };
  for (const o of final.values()) counts[o.status]++;
  expect(counts.uncertain).toBeGreaterThan(0);
  expect(counts.refused).toBeGreaterThan(0);
  expect(counts.sent).toBeGreaterThan(COUNT * 0.85);
  expect(resumed.some((o) => !o.journaled && o.attempts > 1)).toBe(true);
  for (const stage of ['greeting', 'EHLO', 'MAIL', 'RCPT', 'DATA', '.', 'RSET']) expect([stage, (faults.get(stage) ?? 0) > 0]).toEqual([stage, true]);
});
