/**
 * smtp.sendmany with an AbortSignal, against a scripted SMTP server on
 * 127.0.0.1: an abort stops reading the source, aborts the message in flight
 * before its end of data (not journaled as failed, so a resume sends it),
 * and the iteration rejects with the AbortError after the outcomes already
 * produced.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OptionError } from '../../../lib/errors';
import * as mime from '../../../mime';
import { type BulkItem, type BulkOutcome, sendmany } from '../../../smtp/bulk/sendmany';
import { releaseToken, tracked } from '../../support/fixtures';
import { scriptedServer } from '../../support/scripted-server';

const track = tracked();
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tclmail-sendmany-abort-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const scripted = track.opener(scriptedServer);

function message(id: string): mime.Token {
  const tok = mime.initialize({ canonical: 'text/plain', string: `Message ${id}.\r\n`, header: [['From', `${id}@x.org`], ['To', 'b@y.org'], ['Subject', `Note ${id}`]] });
  return track.add(tok, releaseToken);
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `m${String(i).padStart(3, '0')}`);

/** Every outcome until the iteration ends, and how it ended. */
async function drain(run: AsyncIterable<BulkOutcome>): Promise<{ outcomes: BulkOutcome[]; error: unknown }> {
  const outcomes: BulkOutcome[] = [];
  try {
    for await (const outcome of run) outcomes.push(outcome);
    return { outcomes, error: null };
  } catch (error) {
    return { outcomes, error };
  }
}

describe('smtp.sendmany with signal', () => {
  it('stops pulling, aborts the message in flight before its end of data, rejects with the AbortError after the outcomes so far; a resume sends the rest once', async () => {
    const file = path.join(dir, 'run.jsonl');
    const controller = new AbortController();
    let stalled = true;
    const srv = await scripted({
      on: {
        // m003's RCPT is never answered while `stalled`: the message is in flight, before its end of data, when the run is aborted.
        RCPT: (_line, conn) => {
          if (!stalled || conn.mailFrom !== 'm003@x.org') return undefined;
          controller.abort(new Error('operator said stop'));
          return { stall: true };
        },
      },
    });
    const list = ids(10);
    let pulled = 0;
    function* source(): Generator<BulkItem> {
      for (const id of list) {
        pulled++;
        yield { token: message(id), id };
      }
    }
    const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, concurrency: 1, journal: file, retryDelay: 0.001 };
    const first = await drain(sendmany(source(), { ...options, signal: controller.signal }));
    expect(first.outcomes.map((o) => `${o.id}:${o.status}`)).toEqual(['m000:sent', 'm001:sent', 'm002:sent']);
    expect(first.error).toBeInstanceOf(DOMException);
    expect((first.error as DOMException).name).toBe('AbortError');
    expect(((first.error as DOMException).cause as Error).message).toBe('operator said stop');
    // Nothing after the message in flight was read from the source.
    expect(pulled).toBe(4);
    expect(srv.messages.map((m) => m.mailFrom)).toEqual(['m000@x.org', 'm001@x.org', 'm002@x.org']);
    // m003 is not journaled: no line for it (not failed, not sending), and the lock is released.
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { id: string; state: string });
    expect(lines.filter((l) => l.id === 'm003')).toEqual([]);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);

    stalled = false;
    pulled = 0;
    const rest = await drain(sendmany(source(), options));
    expect(rest.error).toBeNull();
    expect(rest.outcomes.filter((o) => o.journaled).map((o) => o.id)).toEqual(['m000', 'm001', 'm002']);
    expect(rest.outcomes.filter((o) => !o.journaled).map((o) => `${o.id}:${o.status}`).sort()).toEqual(list.slice(3).map((id) => `${id}:sent`));
    // Each message reached the server exactly once across both runs.
    expect(srv.messages.map((m) => m.mailFrom.split('@')[0]).sort()).toEqual(list);
  });

  it('an already aborted signal sends nothing and rejects with the AbortError; a signal that is not one is an OptionError at once', async () => {
    const srv = await scripted({});
    const controller = new AbortController();
    controller.abort();
    const run = await drain(sendmany(ids(3).map((id) => ({ token: message(id), id })), { servers: '127.0.0.1', ports: srv.port, usetls: false, signal: controller.signal }));
    expect(run.outcomes).toEqual([]);
    expect((run.error as DOMException).name).toBe('AbortError');
    expect(srv.connections).toBe(0);
    expect(() => sendmany([], { servers: '127.0.0.1', signal: 'stop' as unknown as AbortSignal })).toThrow(OptionError);
    expect(() => sendmany([], { servers: '127.0.0.1', signal: 'stop' as unknown as AbortSignal })).toThrow(/-signal expects an AbortSignal/);
  });

  it('an abort while messages wait for their retry ends the run at once; the deferred message stays for the next run', async () => {
    const file = path.join(dir, 'run.jsonl');
    const controller = new AbortController();
    let refuse = true;
    const srv = await scripted({ on: { 'MAIL FROM:<m001@x.org>': () => (refuse ? '451 4.3.0 try again later' : undefined) } });
    const options = { servers: '127.0.0.1', ports: srv.port, usetls: false, concurrency: 1, journal: file, retryDelay: 60, maxRetryDelay: 60 };
    const items = (): BulkItem[] => ids(2).map((id) => ({ token: message(id), id }));
    const started = Date.now();
    const run = sendmany(items(), { ...options, signal: controller.signal, onProgress: (p) => (p.deferred === 1 ? controller.abort() : undefined) });
    const first = await drain(run);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(first.outcomes.map((o) => `${o.id}:${o.status}`)).toEqual(['m000:sent']);
    expect((first.error as DOMException).name).toBe('AbortError');
    refuse = false;
    const rest = await drain(sendmany(items(), options));
    expect(rest.outcomes.map((o) => `${o.id}:${o.status}:${o.journaled}`)).toEqual(['m000:sent:true', 'm001:sent:false']);
  });
});
