/**
 * smtp.sendmany: outcomes as messages finish, ids, per-message options,
 * retries of temporary failures (and none of permanent ones or of uncertain
 * ones), the journal written ahead of each end of data and honoured on a
 * restart; plus the pure parts: the verdict on each kind of failure, the
 * back-off and the pace. Real peers: npm smtp-server and the scripted server.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mime from '../../../mime';
import { type BulkOutcome, type BulkProgress, MAX_DEFERRED, sendmany } from '../../../smtp/bulk/sendmany';
import { backoffDelay, classify, Pacer } from '../../../smtp/bulk/retry';
import { createHash } from 'node:crypto';
import { InvalidInputError, OptionError, SmtpError, UncertainDeliveryError } from '../../../lib/errors';
import { CircuitOpenError } from '../../../smtp/bulk/breaker';
import { ChangedItemsError } from '../../../smtp/bulk/ledger';
import { messageDigest } from '../../../smtp/bulk/message-digest';
import { releaseToken, tracked } from '../../support/fixtures';
import { realServer, type RealServer } from '../../support/real-server';
import { scriptedServer, type ScriptedServer } from '../../support/scripted-server';

const track = tracked();
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-sendmany-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const scripted = track.opener(scriptedServer);

async function real(): Promise<RealServer> {
  return track.add(await realServer({ disabledCommands: ['STARTTLS', 'AUTH'] }));
}

/** A message from `<id>@x.org`, so a scripted server can tell messages apart by MAIL FROM. */
function message(id: string, extra: Array<[string, string]> = []): mime.Token {
  const tok = mime.initialize({
    canonical: 'text/plain',
    string: `Message ${id}.\r\n`,
    header: [['From', `${id}@x.org`], ['To', 'b@y.org'], ['Subject', `Note ${id}`], ...extra],
  });
  return track.add(tok, releaseToken);
}

const ids = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

async function collect(run: AsyncIterable<BulkOutcome>): Promise<BulkOutcome[]> {
  const out: BulkOutcome[] = [];
  for await (const outcome of run) out.push(outcome);
  return out;
}

const byId = (outcomes: BulkOutcome[]): Map<string, BulkOutcome> => new Map(outcomes.map((o) => [o.id, o]));

/** Sender ids of what a scripted server got, accepted or not answered (held), in order. */
function held(srv: ScriptedServer): string[] {
  return srv.received.filter((m) => m.replyCode === 0 || (m.replyCode >= 200 && m.replyCode < 300)).map((m) => m.mailFrom.split('@')[0]);
}

const FAST = { retryDelay: 0.001, maxRetryDelay: 0.005 };

const D = (id: string): string => createHash('sha256').update(id).digest('hex');

describe('smtp.sendmany against smtp-server', () => {
  it('pipelines messages on fewer sessions than are in flight, and still sends each exactly once', async () => {
    const srv = await real();
    const list = ids(40, 'p');
    const outcomes = await collect(
      sendmany(list.map((id) => ({ token: message(id), id })), { servers: ['127.0.0.1'], ports: [srv.port], usetls: false, concurrency: 8, maxConnections: 2 }),
    );
    expect(outcomes.filter((o) => o.status === 'sent').map((o) => o.id).sort()).toEqual(list);
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(list);
    expect(srv.connections).toBeLessThanOrEqual(2);
  });

  it('sends every message once and yields one outcome each, with counts along the way', async () => {
    const srv = await real();
    const list = ids(30);
    const progress: BulkProgress[] = [];
    const outcomes = await collect(
      sendmany(
        list.map((id) => ({ token: message(id), id })),
        { servers: ['127.0.0.1'], ports: [srv.port], usetls: false, concurrency: 4, onProgress: (p: BulkProgress) => progress.push(p) },
      ),
    );
    expect(outcomes.map((o) => o.id).sort()).toEqual(list);
    for (const o of outcomes) expect(o).toEqual({ id: o.id, status: 'sent', rejected: [], error: null, attempts: 1, journaled: false });
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(list);
    expect(progress[progress.length - 1]).toMatchObject({ sent: 30, done: 30, failed: 0, inFlight: expect.any(Number) });
    expect(Math.max(...progress.map((p) => p.inFlight))).toBeLessThanOrEqual(4);
  });

  it('takes an async source of bare tokens, ids from their Message-ID, and per-message options over the run options', async () => {
    const srv = await real();
    async function* source(): AsyncGenerator<mime.Token | { token: mime.Token; options: { recipients: string } }> {
      yield message('a', [['Message-ID', '<a.1@x.org>']]);
      yield { token: message('b', [['Message-ID', '<b.1@x.org>']]), options: { recipients: 'c@y.org' } };
    }
    const outcomes = await collect(sendmany(source(), '-servers', '127.0.0.1', '-ports', srv.port, '-usetls', 0, '-header', ['X-Run', '7']));
    expect(outcomes.map((o) => `${o.id} ${o.status}`).sort()).toEqual(['<a.1@x.org> sent', '<b.1@x.org> sent']);
    const rcpt = new Map(srv.messages.map((m) => [m.mailFrom, m.rcptTo]));
    expect(rcpt.get('a@x.org')).toEqual(['b@y.org']);
    expect(rcpt.get('b@x.org')).toEqual(['c@y.org']);
    for (const m of srv.messages) expect(m.data.toString('latin1')).toMatch(/^X-Run: 7\r$/m);
  });

  it('refuses bad options at once, and reports a bad item as failed without stopping the run', async () => {
    expect(() => sendmany([], { rate: -1 })).toThrow(OptionError);
    expect(() => sendmany([], { concurrency: 0 })).toThrow(OptionError);
    expect(() => sendmany([], '-nosuch', 1)).toThrow(/unknown option -nosuch/);
    const srv = await real();
    const source = [{ token: message('ok'), id: 'ok' }, 'not a token', { token: message('bad'), id: 'bad', options: { header: [['To', 'x\r\nRCPT TO:<e@v.il>']] } }];
    const outcomes = byId(await collect(sendmany(source as never, { servers: ['127.0.0.1'], ports: [srv.port], usetls: false })));
    expect(outcomes.get('ok')?.status).toBe('sent');
    expect(outcomes.get('#2')).toMatchObject({ status: 'failed', attempts: 0 });
    expect(outcomes.get('#2')?.error).toBeInstanceOf(InvalidInputError);
    expect(outcomes.get('bad')).toMatchObject({ status: 'failed', attempts: 0 });
    expect(srv.messages).toHaveLength(1);
  });
});

describe('smtp.sendmany: retries and verdicts (scripted server)', () => {
  it('tries a temporary failure again after a back-off and sends it once', async () => {
    let refusals = 0;
    const srv = await scripted({
      on: {
        'MAIL FROM:<m001@x.org>': () => (refusals++ < 2 ? '451 4.3.0 try again later' : undefined),
      },
    });
    const outcomes = byId(await collect(sendmany(ids(3).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: srv.port, usetls: false, ...FAST })));
    expect(outcomes.get('m001')).toMatchObject({ status: 'sent', attempts: 3 });
    expect(outcomes.get('m000')).toMatchObject({ status: 'sent', attempts: 1 });
    expect(held(srv).sort()).toEqual(ids(3));
  });

  it('reads no further into the source while MAX_DEFERRED messages wait for their retry (a relay greylisting everything)', async () => {
    const srv = await scripted({ on: { MAIL: '451 4.7.1 greylisted, try again later' } });
    const total = MAX_DEFERRED + 300;
    const concurrency = 8;
    let pulled = 0;
    async function* source(): AsyncGenerator<{ token: mime.Token; id: string }> {
      for (let i = 0; i < total; i++) {
        pulled++;
        yield { token: message(`g${i}`), id: `g${i}` };
      }
    }
    const run = sendmany(source(), { servers: '127.0.0.1', ports: srv.port, usetls: false, concurrency, retryDelay: 600 });
    const outcomes = collect(run);
    // Every message is deferred for ten minutes: the run fills its deferrals, then has nothing to do.
    let last = -1;
    while (run.progress.deferred < MAX_DEFERRED || run.progress.deferred !== last) {
      last = run.progress.deferred;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const held = { pulled, deferred: run.progress.deferred };
    run.stop();
    expect(await outcomes).toEqual([]);
    expect(held.deferred).toBeGreaterThanOrEqual(MAX_DEFERRED);
    // Those already being read or tried when the cap was reached, and no more.
    expect(held.deferred).toBeLessThanOrEqual(MAX_DEFERRED + concurrency);
    expect(held.pulled).toBeLessThanOrEqual(MAX_DEFERRED + concurrency);
    expect(srv.transcript.flat().filter((l) => l.startsWith('MAIL FROM:')).length).toBe(held.deferred);
  }, 60_000);

  it('does not try a permanent refusal again, and gives up on a temporary one after `retries`', async () => {
    const srv = await scripted({
      on: {
        'RCPT TO:<b@y.org>': (_line, conn) => (conn.mailFrom === 'm000@x.org' ? '550 5.1.1 no such user' : undefined),
        'MAIL FROM:<m001@x.org>': '452 4.3.1 out of room',
      },
    });
    const outcomes = byId(await collect(sendmany(ids(3).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: srv.port, usetls: false, retries: 2, ...FAST })));
    expect(outcomes.get('m000')).toMatchObject({ status: 'refused', attempts: 1, rejected: [['b@y.org', 550, '5.1.1 no such user']] });
    expect(outcomes.get('m001')).toMatchObject({ status: 'failed', attempts: 3 });
    expect((outcomes.get('m001')?.error as SmtpError).code).toBe('EALLFAILED');
    expect(outcomes.get('m002')?.status).toBe('sent');
    const mails = srv.transcript.flat().filter((l) => l.startsWith('MAIL FROM:<m00'));
    expect(mails.filter((l) => l.startsWith('MAIL FROM:<m000@')).length).toBe(1);
    expect(mails.filter((l) => l.startsWith('MAIL FROM:<m001@')).length).toBe(3);
  });

  it('reports an end of data without a reply as uncertain and never sends it again', async () => {
    const srv = await scripted({ on: { '.': (_line, conn) => (conn.mailFrom === 'm001@x.org' ? { drop: true } : undefined) } });
    const outcomes = byId(await collect(sendmany(ids(3).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: srv.port, usetls: false, ...FAST })));
    expect(outcomes.get('m001')).toMatchObject({ status: 'uncertain', attempts: 1 });
    expect(outcomes.get('m001')?.error).toBeInstanceOf(UncertainDeliveryError);
    expect(held(srv).sort()).toEqual(ids(3));
  });
});

describe('smtp.sendmany: the journal', () => {
  it('writes `sending` before the end of data reaches the server, and the outcome after the reply', async () => {
    const file = path.join(dir, 'run.jsonl');
    const atDot: string[] = [];
    const srv = await scripted({
      on: {
        '.': (_line, conn) => {
          atDot.push(`${(conn.mailFrom ?? '').split('@')[0]}: ${fs.readFileSync(file, 'utf8').trim().split('\n').pop()}`);
          return undefined;
        },
      },
    });
    await collect(sendmany(ids(2).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: srv.port, usetls: false, concurrency: 1, journal: file }));
    expect(atDot).toEqual([expect.stringMatching(/^m000: \{"id":"m000","digest":"[0-9a-f]{64}","state":"sending"/), expect.stringMatching(/^m001: \{"id":"m001","digest":"[0-9a-f]{64}","state":"sending"/)]);
    const states = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string; state: string; code?: number }));
    expect(states[0]).toMatchObject({ type: 'manifest', campaign: 'run' });
    expect(states.slice(1).map((s) => `${s.id}:${s.state}:${s.code ?? ''}`)).toEqual(['m000:sending:', 'm000:sent:250', 'm001:sending:', 'm001:sent:250']);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('on a restart skips what has an outcome, reports `sending` alone as uncertain (and records it so), and sends the rest', async () => {
    const file = path.join(dir, 'run.jsonl');
    const at = '"at":"2026-12-01T00:00:00Z"';
    const line = (id: string, rest: string): string => `{"id":"${id}","digest":"${D(id)}",${rest},${at}}`;
    fs.writeFileSync(
      file,
      [
        `{"type":"manifest","campaign":"run","listDigest":"","total":5,"createdAt":"2026-12-01T00:00:00Z",${at}}`,
        line('m000', '"state":"sending"'),
        line('m000', '"state":"sent","code":250'),
        line('m001', '"state":"refused","code":550,"diagnostic":"550: no"'),
        line('m002', '"state":"sending"'),
        line('m003', '"state":"sending"'),
        line('m003', '"state":"deferred","code":451'),
        '',
      ].join('\n'),
    );
    const srv = await real();
    const run = (extra: object = {}): Promise<BulkOutcome[]> =>
      collect(sendmany(ids(5).map((id) => ({ token: message(id), id, digest: D(id) })), { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file, ...extra }));
    const first = byId(await run());
    expect(first.get('m000')).toMatchObject({ status: 'sent', journaled: true, attempts: 0 });
    expect(first.get('m001')).toMatchObject({ status: 'refused', journaled: true, attempts: 0 });
    expect(first.get('m001')?.error?.message).toBe('550: no');
    expect(first.get('m002')).toMatchObject({ status: 'uncertain', journaled: true, attempts: 0 });
    expect(first.get('m003')).toMatchObject({ status: 'sent', journaled: false, attempts: 1 });
    expect(first.get('m004')).toMatchObject({ status: 'sent', journaled: false, attempts: 1 });
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(['m003', 'm004']);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/"id":"m002","digest":"[0-9a-f]+","state":"uncertain"/);

    // Run again: everything is settled, except the uncertain one, which goes only when asked for.
    const second = await run();
    expect(second.filter((o) => !o.journaled)).toEqual([]);
    expect(srv.messages).toHaveLength(2);
    const third = byId(await run({ resendUncertain: true }));
    expect(third.get('m002')).toMatchObject({ status: 'sent', journaled: false });
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(['m002', 'm003', 'm004']);
  });

  it('refuses a resume whose items changed (same id, another digest) before anything is sent, unless acceptChanged', async () => {
    const file = path.join(dir, 'run.jsonl');
    const srv = await real();
    const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file, concurrency: 1 };
    await collect(sendmany(ids(3).map((id) => ({ token: message(id), id })), options));
    expect(srv.messages).toHaveLength(3);
    // The same ids for other messages: m001 and m002 now say something else.
    const edited = (): Array<{ token: mime.Token; id: string }> => ids(5).map((id) => ({ token: message(id === 'm000' ? id : `${id}-v2`), id }));
    const error = await collect(sendmany(edited(), options)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChangedItemsError);
    expect(error).toMatchObject({ code: 'ECHANGED', ids: ['m001', 'm002'], count: 2 });
    expect(srv.messages).toHaveLength(3);
    const accepted = byId(await collect(sendmany(edited(), { ...options, acceptChanged: true })));
    expect(accepted.get('m001')).toMatchObject({ status: 'sent', journaled: true });
    expect(accepted.get('m003')).toMatchObject({ status: 'sent', journaled: false });
    expect(srv.messages).toHaveLength(5);
    // The new digests are recorded: the edited list is now the known one.
    const again = await collect(sendmany(edited(), options));
    expect(again.every((o) => o.journaled)).toBe(true);
  });

  it('computes the same digest for the same message built twice (Date, Message-ID and boundaries aside), another for an edited one', () => {
    const build = (text: string, n: number): mime.Token => {
      const part = mime.initialize({ canonical: 'text/plain', string: text });
      return track.add(mime.initialize({ canonical: 'multipart/mixed', parts: [part], header: [['From', 'a@x.org'], ['Subject', 'Hi'], ['Date', `Mon, ${n} Dec 2026 10:00:00 +0000`], ['Message-ID', `<${n}@x.org>`]] }), releaseToken);
    };
    const envelope = { sender: 'a@x.org', recipients: ['B@y.org'] };
    const one = messageDigest(build('hello', 1), envelope);
    expect(messageDigest(build('hello', 2), envelope)).toBe(one);
    expect(messageDigest(build('hello', 1), { sender: 'a@x.org', recipients: ['b@y.org'] })).toBe(one);
    expect(messageDigest(build('hello!', 1), envelope)).not.toBe(one);
    expect(messageDigest(build('hello', 1), { sender: 'a@x.org', recipients: ['c@y.org'] })).not.toBe(one);
  });

  it('needs an id that survives a restart, and unique ones', async () => {
    const srv = await real();
    const file = path.join(dir, 'run.jsonl');
    const source = [message('anon'), { token: message('a'), id: 'same' }, { token: message('b'), id: 'same' }];
    const outcomes = await collect(sendmany(source, { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file, concurrency: 1 }));
    expect(outcomes.map((o) => [o.id, o.status])).toEqual([
      ['#1', 'failed'],
      ['same', 'sent'],
      ['same', 'duplicate'],
    ]);
    expect(outcomes[0].error?.message).toMatch(/no id and no Message-ID/);
    expect(outcomes[2].error?.message).toMatch(/came earlier in the source/);
    expect(srv.messages).toHaveLength(1);
  });

  it('stops when the consumer breaks out: messages in flight finish and are journaled, the rest go on the next run', async () => {
    const file = path.join(dir, 'run.jsonl');
    const srv = await real();
    const list = ids(40);
    const source = (): Array<{ token: mime.Token; id: string }> => list.map((id) => ({ token: message(id), id }));
    const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file, concurrency: 2 };
    const early: BulkOutcome[] = [];
    for await (const o of sendmany(source(), options)) {
      early.push(o);
      if (early.length === 5) break;
    }
    const firstRun = srv.messages.length;
    expect(firstRun).toBeGreaterThanOrEqual(5);
    expect(firstRun).toBeLessThan(40);
    const rest = await collect(sendmany(source(), options));
    expect(rest).toHaveLength(40);
    expect(rest.filter((o) => o.journaled).length).toBe(firstRun);
    expect(rest.every((o) => o.status === 'sent')).toBe(true);
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(list);
  });

  it('stops the run with a JournalError when the journal is held by a live process', async () => {
    const file = path.join(dir, 'run.jsonl');
    const start = fs.readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ host: os.hostname(), bootId, pid: process.ppid, start, at: new Date().toISOString() }));
    const srv = await real();
    await expect(collect(sendmany([{ token: message('a'), id: 'a' }], { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file }))).rejects.toThrow(
      new RegExp(`in use by process ${process.ppid} on `),
    );
    expect(srv.messages).toHaveLength(0);
  });
});

describe('smtp.sendmany: stopping and the circuit breaker', () => {
  it('stop(): nothing new starts, messages in flight finish and are journaled, the rest go on the next run', async () => {
    const file = path.join(dir, 'run.jsonl');
    const srv = await real();
    const list = ids(30);
    const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, journal: file, concurrency: 3, rate: 50 };
    const run = sendmany(list.map((id) => ({ token: message(id), id })), options);
    const first: BulkOutcome[] = [];
    for await (const o of run) {
      first.push(o);
      if (first.length === 4) run.stop();
    }
    expect(first.length).toBeGreaterThanOrEqual(4);
    expect(first.length).toBeLessThan(30);
    expect(srv.messages).toHaveLength(first.length);
    const rest = await collect(sendmany(list.map((id) => ({ token: message(id), id })), options));
    expect(rest.filter((o) => o.journaled).map((o) => o.id).sort()).toEqual(first.map((o) => o.id).sort());
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(list);
  });

  it('gives up with a CircuitOpenError when no server takes a connection for giveUpAfter seconds; the rest stays pending', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const file = path.join(dir, 'run.jsonl');
    const started = Date.now();
    const outcomes: BulkOutcome[] = [];
    const error = await (async () => {
      for await (const o of sendmany(ids(50).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: closed, usetls: false, journal: file, retries: 2, retryDelay: 0.05, giveUpAfter: 1 })) outcomes.push(o);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as Error).message).toMatch(/gave up: every server refused or dropped the connection for 1 s/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Nothing was failed for good: every message is left for the resume.
    expect(outcomes).toEqual([]);
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

describe('verdicts, back-off and pace', () => {
  const err = (code: ConstructorParameters<typeof SmtpError>[0], stage: ConstructorParameters<typeof SmtpError>[1], replyCode: number | null = null): SmtpError =>
    new SmtpError(code, stage, 'x', { replyCode });

  it('classes each failure', () => {
    expect(classify(new UncertainDeliveryError('gone'))).toBe('uncertain');
    expect(classify(err('ESMTP', 'mail', 451))).toBe('temporary');
    expect(classify(err('ESMTP', 'dot', 554))).toBe('refused');
    expect(classify(err('ECONNECTION', 'rcpt'))).toBe('temporary');
    expect(classify(err('ESIZE', 'mail'))).toBe('refused');
    expect(classify(err('EAUTH', 'auth', 535))).toBe('failed');
    expect(classify(err('ESOURCE', 'body'))).toBe('failed');
    expect(classify(new InvalidInputError('x', 'y'))).toBe('failed');
    const some = err('ERECIPIENTS', 'rcpt', 450);
    some.rejected = [['a@b.c', 450, 'busy']];
    expect(classify(some)).toBe('temporary');
    some.rejected.push(['d@b.c', 550, 'unknown']);
    expect(classify(some)).toBe('refused');
    const all = err('EALLFAILED', 'greeting', 554);
    all.attempts = [{ server: 'a', port: 25, stage: 'greeting', code: 554, enhanced: null, diagnostic: 'no' }];
    expect(classify(all)).toBe('failed');
    all.attempts.push({ server: 'b', port: 25, stage: 'connect', code: null, enhanced: null, diagnostic: 'refused' });
    expect(classify(all)).toBe('temporary');
    all.attempts = [{ server: 'b', port: 25, stage: 'tls', code: null, enhanced: null, diagnostic: 'certificate' }];
    expect(classify(all)).toBe('failed');
  });

  it('doubles the back-off per retry up to the cap, drawn from the upper half', () => {
    const backoff = { initialSecs: 2, maxSecs: 10 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, backoff, () => 0))).toEqual([1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, backoff, () => 1))).toEqual([2000, 4000, 8000, 10000]);
  });

  it('spaces starts evenly at the rate, and does not save idle time for a burst', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const pacer = new Pacer(10);
      const started: number[] = [];
      const take = (): Promise<void> => pacer.take().then(() => void started.push(Date.now() - 1_000_000));
      const five = Promise.all([take(), take(), take(), take(), take()]);
      await jest.advanceTimersByTimeAsync(1000);
      await five;
      expect(started).toEqual([0, 100, 200, 300, 400]);
      await jest.advanceTimersByTimeAsync(5000);
      const after = Promise.all([take(), take()]);
      await jest.advanceTimersByTimeAsync(1000);
      await after;
      expect(started.slice(5)).toEqual([6000, 6100]);
    } finally {
      jest.useRealTimers();
    }
  });
});
