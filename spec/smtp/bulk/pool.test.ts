/**
 * smtp.pool against scripted servers on 127.0.0.1: sessions reused across
 * messages, RSET after an abandoned transaction, a fresh session after
 * maxMessages, a 421 or a session the server let go, at most maxConnections,
 * failover per connection, the sendmessage contract (results, errors,
 * attempts), 452 follow-up transactions, and a polite close.
 */
import * as mime from '../../../mime';
import { pool } from '../../../smtp/bulk/pool';
import { OptionError, SmtpError } from '../../../lib/errors';
import { closedPort, releaseToken, tracked } from '../../support/fixtures';
import { scriptedServer, type ScriptedServer } from '../../support/scripted-server';

const track = tracked();
const server = track.opener(scriptedServer);

function message(n: number, to = 'b@y.org'): mime.Token {
  const tok = mime.initialize({
    canonical: 'text/plain',
    string: `Message ${n}.\r\n`,
    header: [
      ['From', `a${n}@x.org`],
      ['To', to],
      ['Subject', `Note ${n}`],
    ],
  });
  return track.add(tok, releaseToken);
}

/** The verbs of each connection's transcript, the message lines left out. */
function verbs(srv: ScriptedServer): string[][] {
  return srv.transcript.map((lines) => lines.map((l) => (l === '.' ? '.' : l.split(/[ :]/)[0].toUpperCase())));
}

describe('smtp.pool: messages pipelined on a session (RFC 2920)', () => {
  it("writes the next message's MAIL, RCPT and DATA with the end of data, and reads each reply in order", async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await expect(Promise.all([0, 1, 2, 3].map((n) => p.sendmessage(message(n))))).resolves.toEqual([[], [], [], []]);
    await p.close();
    expect(srv.connections).toBe(1);
    // Messages waiting for the session take it in no promised order.
    expect(srv.messages.map((m) => m.mailFrom).sort()).toEqual(['a0@x.org', 'a1@x.org', 'a2@x.org', 'a3@x.org']);
    const batches = srv.conns[0].batches.map((batch) => batch.map((l) => (l === '.' ? '.' : l.split(/[ :]/)[0].toUpperCase())));
    // EHLO; the first envelope; then each end of data with the next envelope; the last end of data; QUIT.
    expect(batches).toEqual([['EHLO'], ['MAIL', 'RCPT', 'DATA'], ['.', 'MAIL', 'RCPT', 'DATA'], ['.', 'MAIL', 'RCPT', 'DATA'], ['.', 'MAIL', 'RCPT', 'DATA'], ['.'], ['QUIT']]);
  });

  it('goes on pipelining on a session that has been idle in between', async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await p.sendmessage(message(0));
    await Promise.all([1, 2, 3].map((n) => p.sendmessage(message(n))));
    await p.close();
    expect(srv.connections).toBe(1);
    const batches = srv.conns[0].batches.map((batch) => batch.map((l) => (l === '.' ? '.' : l.split(/[ :]/)[0].toUpperCase())));
    // The first message alone; after the idle gap the three others, each behind the previous end of data.
    expect(batches).toEqual([['EHLO'], ['MAIL', 'RCPT', 'DATA'], ['.'], ['MAIL', 'RCPT', 'DATA'], ['.', 'MAIL', 'RCPT', 'DATA'], ['.', 'MAIL', 'RCPT', 'DATA'], ['.'], ['QUIT']]);
  });

  it('without PIPELINING offered, the next message waits for the final reply', async () => {
    const srv = await server({ ehlo: ['250-scripted.test', '250 8BITMIME'] });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await expect(Promise.all([0, 1, 2].map((n) => p.sendmessage(message(n))))).resolves.toEqual([[], [], []]);
    await p.close();
    const batches = srv.conns[0].batches.map((batch) => batch.map((l) => (l === '.' ? '.' : l.split(/[ :]/)[0].toUpperCase())));
    expect(batches.every((batch) => batch.length === 1)).toBe(true);
    expect(srv.messages).toHaveLength(3);
  });

  it('a refused message does not disturb the one pipelined behind it', async () => {
    const srv = await server({ on: { '.': (_line, conn) => (conn.mailFrom === 'a1@x.org' ? '554 5.7.1 content refused' : undefined) } });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    const results = await Promise.all([0, 1, 2].map((n) => p.sendmessage(message(n)).then(() => 'sent', (e: SmtpError) => `${e.stage} ${e.replyCode}`)));
    await p.close();
    expect(results).toEqual(['sent', 'dot 554', 'sent']);
    expect(srv.connections).toBe(1);
    expect(srv.messages.map((m) => m.mailFrom)).toEqual(['a0@x.org', 'a2@x.org']);
  });

  it('a session lost after an end of data: that message is uncertain, the one behind it is sent once on a fresh session', async () => {
    let dropped = false;
    const srv = await server({
      on: {
        '.': (_line, conn) => {
          if (conn.mailFrom !== 'a0@x.org' || dropped) return undefined;
          dropped = true;
          return { drop: true };
        },
      },
    });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    const results = await Promise.all([0, 1].map((n) => p.sendmessage(message(n)).then(() => 'sent', (e: SmtpError) => e.code)));
    await p.close();
    expect(results).toEqual(['EUNCERTAIN', 'sent']);
    // a1's envelope went out with a0's end of data, but its own end of data only on the second connection.
    expect(srv.connections).toBe(2);
    expect(srv.messages.map((m) => m.mailFrom)).toEqual(['a1@x.org']);
    expect(srv.received.filter((m) => m.mailFrom === 'a1@x.org')).toHaveLength(1);
  });

  it('a 421 to an end of data closes the session: the message behind it moves to a fresh one', async () => {
    const srv = await server({ on: { '.': (_line, conn) => (conn.mailFrom === 'a0@x.org' && conn.index === 0 ? '421 4.3.2 shutting down' : undefined) } });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    const results = await Promise.all([0, 1].map((n) => p.sendmessage(message(n)).then(() => 'sent', (e: SmtpError) => `${e.code} ${e.replyCode}`)));
    await p.close();
    // A 421 is not an acceptance: a0 is retried by the walk as sendmessage would (here, no other server: it fails).
    expect(results).toEqual(['EALLFAILED 421', 'sent']);
    expect(srv.messages.filter((m) => m.mailFrom === 'a1@x.org')).toHaveLength(1);
  });
});

describe('smtp.pool: connection reuse', () => {
  it('sends many messages over one session, without RSET after a completed transaction, and QUITs on close', async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    for (let n = 0; n < 4; n++) await expect(p.sendmessage(message(n))).resolves.toEqual([]);
    expect(p.connections).toBe(1);
    await p.close();
    expect(p.connections).toBe(0);
    expect(srv.connections).toBe(1);
    const round = ['MAIL', 'RCPT', 'DATA', '.'];
    expect(verbs(srv)[0]).toEqual(['EHLO', ...round, ...round, ...round, ...round, 'QUIT']);
    expect(srv.messages.map((m) => m.mailFrom)).toEqual(['a0@x.org', 'a1@x.org', 'a2@x.org', 'a3@x.org']);
  });

  it('resets an abandoned transaction before the next message on the same session', async () => {
    const srv = await server({ on: { 'MAIL FROM:<a1@x.org>': '550 5.7.1 sender rejected' } });
    const p = pool({ servers: '127.0.0.1', ports: srv.port, usetls: false, maxConnections: 1 });
    await expect(p.sendmessage(message(0))).resolves.toEqual([]);
    const error = (await p.sendmessage(message(1)).catch((e: unknown) => e)) as SmtpError;
    expect(error).toBeInstanceOf(SmtpError);
    expect(error.message).toBe('550: 5.7.1 sender rejected');
    expect(error.stage).toBe('mail');
    expect(error.attempts.map((a) => [a.port, a.stage, a.code])).toEqual([[srv.port, 'mail', 550]]);
    await expect(p.sendmessage(message(2))).resolves.toEqual([]);
    await p.close();
    expect(srv.connections).toBe(1);
    const lines = verbs(srv)[0];
    const refused = lines.indexOf('MAIL', lines.indexOf('.'));
    // DATA went with the one RCPT, and was refused in turn after the sender was.
    expect(lines.slice(refused, refused + 5)).toEqual(['MAIL', 'RCPT', 'DATA', 'RSET', 'MAIL']);
  });

  it('opens a fresh session after maxMessages', async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1, maxMessages: 2 });
    for (let n = 0; n < 5; n++) await p.sendmessage(message(n));
    await p.close();
    expect(srv.connections).toBe(3);
    expect(srv.conns.map((c) => c.lines.filter((l) => l === '.').length)).toEqual([2, 2, 1]);
    for (const lines of verbs(srv)) expect(lines[lines.length - 1]).toBe('QUIT');
  });

  it('takes a 421 on a reused session as the server closing it, and sends on a fresh session to the same server', async () => {
    const srv = await server({ connection: (i) => (i === 0 ? { on: { 'MAIL FROM:<a1@x.org>': '421 4.4.2 idle too long' } } : undefined) });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await p.sendmessage(message(0));
    await expect(p.sendmessage(message(1))).resolves.toEqual([]);
    await p.close();
    expect(verbs(srv)).toEqual([
      ['EHLO', 'MAIL', 'RCPT', 'DATA', '.', 'MAIL'],
      ['EHLO', 'MAIL', 'RCPT', 'DATA', '.', 'QUIT'],
    ]);
    expect(srv.messages.map((m) => [m.connection, m.mailFrom])).toEqual([
      [0, 'a0@x.org'],
      [1, 'a1@x.org'],
    ]);
  });

  it('notices a session the server dropped while it idled, and sends on a fresh one', async () => {
    const srv = await server({ connection: (i) => (i === 0 ? { on: { '.': { reply: '250 2.0.0 queued', close: true } } } : undefined) });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await p.sendmessage(message(0));
    await srv.closedConnection(0);
    await expect(p.sendmessage(message(1))).resolves.toEqual([]);
    await p.close();
    expect(srv.messages.map((m) => m.connection)).toEqual([0, 1]);
  });

  it('never sends a message again after its end of data went unanswered on a reused session', async () => {
    const srv = await server({ connection: (i) => (i === 0 ? { on: { '.': (_l, c) => (c.lines.filter((l) => l === '.').length === 2 ? { drop: true } : undefined) } } : undefined) });
    const p = pool({ servers: ['127.0.0.1', '127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await p.sendmessage(message(0));
    const error = (await p.sendmessage(message(1)).catch((e: unknown) => e)) as SmtpError;
    expect(error.code).toBe('EUNCERTAIN');
    await p.close();
    expect(srv.received.filter((m) => m.mailFrom === 'a1@x.org')).toHaveLength(1);
    expect(srv.connections).toBe(1);
  });
});

describe('smtp.pool: limits and failover', () => {
  it('keeps at most maxConnections sessions open while messages wait their turn', async () => {
    let peak = 0;
    const srv = await server({
      on: { '.': { reply: '250 2.0.0 queued', delayMs: 30 } },
      connection: () => {
        peak = Math.max(peak, srv.conns.filter((c) => !c.closed).length + 1);
        return undefined;
      },
    });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 2 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => p.sendmessage(message(n))));
    await p.close();
    expect(results).toEqual(Array.from({ length: 8 }, () => []));
    expect(srv.messages).toHaveLength(8);
    expect(srv.connections).toBe(2);
    expect(peak).toBe(2);
  });

  it('QUITs a session that idles for idleSecs', async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, idleSecs: 1 });
    await p.sendmessage(message(0));
    expect(p.connections).toBe(1);
    await srv.closedConnection(0);
    expect(verbs(srv)[0]).toEqual(['EHLO', 'MAIL', 'RCPT', 'DATA', '.', 'QUIT']);
    // The QUIT is over for the pool once its own socket has closed too.
    for (let i = 0; i < 100 && p.connections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(p.connections).toBe(0);
    await p.sendmessage(message(1));
    await p.close();
    expect(srv.connections).toBe(2);
  });

  it('walks the servers in order for each new connection, then reuses the one that answered', async () => {
    const dead = await closedPort();
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1', '127.0.0.1'], ports: [dead, srv.port], usetls: false, maxConnections: 1 });
    for (let n = 0; n < 3; n++) await expect(p.sendmessage(message(n))).resolves.toEqual([]);
    await p.close();
    expect(srv.connections).toBe(1);
    expect(srv.messages).toHaveLength(3);
  });

  it('throws EALLFAILED with every attempt when no server answers', async () => {
    const dead = await closedPort();
    const p = pool({ servers: ['127.0.0.1'], ports: [dead], usetls: false });
    const error = (await p.sendmessage(message(0)).catch((e: unknown) => e)) as SmtpError;
    await p.close();
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts.map((a) => [a.port, a.stage, a.code])).toEqual([[dead, 'connect', null]]);
  });

  it('does not share a session between messages whose connection settings differ', async () => {
    const srv = await server();
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await p.sendmessage(message(0));
    await p.sendmessage(message(1), { client: 'other.example' });
    await p.close();
    expect(srv.transcript.map((lines) => lines[0])).toEqual(['EHLO localhost', 'EHLO other.example']);
  });

  it('bounds each message by maxsecs: a stalled end of data is uncertain, and the session is not reused', async () => {
    const srv = await server({ connection: (i) => (i === 0 ? { on: { '.': { stall: true } } } : undefined) });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1, maxsecs: 1 });
    const error = (await p.sendmessage(message(0)).catch((e: unknown) => e)) as SmtpError;
    expect(error.code).toBe('EUNCERTAIN');
    await expect(p.sendmessage(message(1))).resolves.toEqual([]);
    await p.close();
    expect(srv.connections).toBe(2);
  });
});

describe('smtp.pool: the sendmessage contract', () => {
  it('takes the Tcl-style flat list, merges header pairs over the pool defaults, and refuses bad options before I/O', async () => {
    expect(() => pool({ maxConnections: 0 })).toThrow(OptionError);
    expect(() => pool('-nosuch', 1)).toThrow(/unknown option -nosuch/);
    const srv = await server();
    const p = pool('-servers', '127.0.0.1', '-ports', srv.port, '-usetls', 0, '-header', ['X-Campaign', 'spring']);
    const tok = mime.initialize({ canonical: 'text/plain', string: 'Hi\r\n' });
    track.add(tok, releaseToken);
    await expect(p.sendmessage(tok, '-header', ['From', 'a@x.org'], '-header', ['To', 'b@y.org'])).resolves.toEqual([]);
    await expect(p.sendmessage(tok, { nosuch: 1 } as never)).rejects.toThrow(OptionError);
    await p.close();
    const data = srv.messages[0].data.toString('latin1');
    expect(data).toMatch(/^X-Campaign: spring\r$/m);
    expect(srv.messages[0].rcptTo).toEqual(['b@y.org']);
    await expect(p.sendmessage(tok)).rejects.toThrow(/the pool is closed/);
  });

  it('returns refused recipients with atleastone, and throws ERECIPIENTS without it, as sendmessage does', async () => {
    const srv = await server({ on: { 'RCPT TO:<bad@y.org>': '550 5.1.1 no such user' } });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await expect(p.sendmessage(message(0, 'b@y.org, bad@y.org'), { atleastone: true })).resolves.toEqual([['bad@y.org', 550, '5.1.1 no such user']]);
    const error = (await p.sendmessage(message(1, 'b@y.org, bad@y.org')).catch((e: unknown) => e)) as SmtpError;
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.rejected).toEqual([['bad@y.org', 550, '5.1.1 no such user']]);
    await p.close();
    expect(srv.messages).toHaveLength(1);
    // A pooled session is kept: DATA waited for the RCPT replies, and the refusal reset the transaction.
    expect(srv.connections).toBe(1);
    expect(verbs(srv)[0].slice(-5)).toEqual(['MAIL', 'RCPT', 'RCPT', 'RSET', 'QUIT']);
  });

  it('sends recipients deferred with 452 in a further transaction, with atleastone false too (RFC 5321 §4.5.3.1.10)', async () => {
    let deferredOnce = false;
    const srv = await server({
      on: {
        'RCPT TO:<c@y.org>': () => {
          if (deferredOnce) return undefined;
          deferredOnce = true;
          return '452 4.5.3 too many recipients';
        },
      },
    });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, maxConnections: 1 });
    await expect(p.sendmessage(message(0, 'b@y.org, c@y.org'))).resolves.toEqual([]);
    await p.close();
    expect(srv.messages.map((m) => m.rcptTo)).toEqual([['b@y.org'], ['c@y.org']]);
    // The same message both times, Message-ID included.
    const ids = srv.messages.map((m) => /^Message-ID: (.*)\r$/m.exec(m.data.toString('latin1'))![1]);
    expect(ids[0]).toBe(ids[1]);
  });

  it('waits on close for the messages in flight, then QUITs', async () => {
    const srv = await server({ on: { '.': { reply: '250 2.0.0 queued', delayMs: 100 } } });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false });
    const sending = Promise.all([p.sendmessage(message(0)), p.sendmessage(message(1))]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([p.close(), p.close()]);
    await expect(sending).resolves.toEqual([[], []]);
    expect(srv.messages).toHaveLength(2);
    for (const lines of verbs(srv)) expect(lines[lines.length - 1]).toBe('QUIT');
  });
});
