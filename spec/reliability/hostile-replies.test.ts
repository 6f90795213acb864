/**
 * A hostile or broken server's replies (docs/security.md, A5, A12, A13, A14): every
 * one ends in a typed error — EPROTOCOL, ETIMEOUT, or EUNCERTAIN after the end
 * of data — within the session's deadline and with bounded buffers, never a
 * hang, a crash or a reply taken as the answer to the wrong command.
 * spec/smtp/protocol/session-faults.test.ts already covers an endless multi-line
 * reply, mixed codes in a two-line reply, an 8 KiB line, a trickling reply
 * and a reply split across writes; this file adds what it leaves out.
 */
import { Readable } from 'node:stream';
import { SmtpError, UncertainDeliveryError } from '../../lib/errors';
import { connect } from '../../smtp/protocol/session';
import type { Session } from '../../smtp/protocol/types';
import { scriptedServer, type Script, type ScriptedServer } from '../support/scripted-server';
import { faultProxy, faultScene, thrown } from './helpers';

const { servers, proxies, sessions } = faultScene();

async function server(script: Script): Promise<ScriptedServer> {
  const srv = await scriptedServer(script);
  servers.push(srv);
  return srv;
}

async function open(port: number, maxsecs = 10): Promise<Session> {
  const session = await connect({ server: '127.0.0.1', port, maxsecs });
  sessions.push(session);
  return session;
}

const EHLO = ['250-hostile.test', '250-8BITMIME', '250 AUTH PLAIN LOGIN'];

/** Waits until the session's connection holds bytes it has not read as a reply (white-box: the test needs the order). */
async function untilUnread(session: Session): Promise<void> {
  const conn = (session as unknown as { conn: { hasUnread: boolean } }).conn;
  while (!conn.hasUnread) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe('replies that are not replies', () => {
  // Each of these lines, as the whole greeting, is refused as a protocol error.
  const bad: Array<[string, string]> = [
    ['an empty line', ''],
    ['two digits', '22'],
    ['a code above 5xx', '620 ok'],
    ['a code below 1xx', '099 ok'],
    ['four digits', '2200 ok'],
    ['a letter in the code', '22O ok'],
    ['a tab after the code', '220\tok'],
    ['a space before the code', ' 220 ok'],
    ['a plus sign', '+OK POP3 server ready'],
    ['an HTTP status line', 'HTTP/1.1 400 Bad Request'],
  ];

  it.each(bad)('%s is EPROTOCOL at stage greeting, and the connection is closed', async (_what, line) => {
    const srv = await server({ greeting: { raw: `${line}\r\n` } });
    const error = await thrown(connect({ server: '127.0.0.1', port: srv.port }));
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'greeting']);
    await srv.closedConnection(0);
    expect(srv.transcript[0]).toEqual([]);
  });

  it('a third code in a long multi-line reply is EPROTOCOL (codes must agree on every line)', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `250-line ${i}`);
    lines.splice(17, 0, '251-odd one out');
    const srv = await server({ ehlo: [...lines, '250 end'] });
    const session = await open(srv.port);
    const error = await thrown(session.ehlo());
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'ehlo']);
    expect(error.message).toMatch(/250 then 251/);
  });

  it('reads bytes that are not UTF-8, NUL and DEL in the text without failing', async () => {
    const srv = await server({ on: { NOOP: { raw: Buffer.from('250 ok \xff\xfe\x00\x7f done\r\n', 'latin1') } } });
    const session = await open(srv.port);
    const reply = await session.noop();
    expect(reply.code).toBe(250);
    expect(reply.text).toMatch(/^ok .*done$/);
  });
});

describe('replies that never end, or end too late', () => {
  it('a line that never ends is EPROTOCOL once it passes 8 KiB, long before the server stops writing', async () => {
    // 16 MiB without a line feed: the reader gives up at 8 KiB and closes; it never holds the rest.
    const flood = Buffer.alloc(16 * 1024 * 1024, 0x41);
    const srv = await server({ on: { NOOP: { raw: Buffer.concat([Buffer.from('250 '), flood]) } } });
    const session = await open(srv.port);
    const error = await thrown(session.noop());
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'noop']);
    expect(error.message).toMatch(/8192 bytes/);
    expect(session.state).toBe('closed');
  });

  it('a reply of many long lines is EPROTOCOL at 1 MiB, before its line count runs out', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `250-${String(i).padStart(4, '0')} ${'x'.repeat(4000)}`);
    const srv = await server({ ehlo: [...lines, '250 end'] });
    const session = await open(srv.port);
    const error = await thrown(session.ehlo());
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'ehlo']);
    expect(error.message).toMatch(/1048576 bytes/);
  });

  it('a flood of complete one-line replies nobody asked for is EPROTOCOL, not an ever-growing queue', async () => {
    // The flood starts with the answer to the first NOOP, so it cannot reach the client before that NOOP is sent
    // (a flood right after the greeting raced the first NOOP on a busy machine); the lines after it are out of step.
    const srv = await server({ on: { NOOP: { reply: '250 ok', endless: '250 ok' } } });
    const session = await open(srv.port);
    expect((await session.noop()).code).toBe(250);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const error = await thrown(session.noop());
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'noop']);
    expect(session.state).not.toBe('ready');
  });

  it('a line dribbled one byte at a time without end times out within maxsecs', async () => {
    const drip: Array<string | number> = ['2', '5', '0', ' '];
    for (let i = 0; i < 400; i++) drip.push(5, 'z');
    const srv = await server({ on: { NOOP: { chunks: drip } } });
    const session = await open(srv.port, 1);
    const error = await thrown(session.noop());
    expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'noop']);
    expect(error.message).toMatch(/maxsecs/);
  });

  it('a whole multi-line reply sent one byte per write is read correctly', async () => {
    const text = `${EHLO.join('\r\n')}\r\n`;
    const bytes: Array<string | number> = [];
    for (const ch of text) bytes.push(ch, 1);
    const srv = await server({ ehlo: { chunks: bytes } });
    const session = await open(srv.port);
    const ext = await session.ehlo();
    expect(ext.has('8BITMIME')).toBe(true);
    expect(ext.authMechanisms).toEqual(['PLAIN', 'LOGIN']);
  });

  it('a server that answers every AUTH line with 334 is cut off after a bounded exchange', async () => {
    const srv = await server({ ehlo: EHLO, on: { AUTH: '334 VXNlcm5hbWU6' }, otherwise: '334 UGFzc3dvcmQ6' });
    const session = await open(srv.port, 30);
    const error = await thrown(session.login('ann', 'pw', { mechanism: 'LOGIN' }));
    expect(error.stage).toBe('auth');
    expect(['EPROTOCOL', 'EAUTH']).toContain(error.code);
    expect(error.code).not.toBe('ETIMEOUT');
    // AUTH, at most five answers, one '*' to cancel, and nothing after it.
    const lines = srv.transcript[0].slice(1);
    expect(lines.length).toBeLessThanOrEqual(7);
    expect(lines[lines.length - 1]).toBe('*');
  });
});

describe('replies out of step with the commands (response injection)', () => {
  it('an extra reply after MAIL is never taken as the answer to RCPT: nothing more is sent', async () => {
    const srv = await server({ ehlo: EHLO, on: { MAIL: { reply: '250 2.1.0 ok', raw: '550 5.1.1 injected\r\n' } } });
    const session = await open(srv.port);
    const error = await thrown(session.sendmail('a@x.org', ['b@y.org'], 'Subject: x\r\n\r\nbody\r\n'));
    expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'rcpt']);
    expect(error.rejected).toEqual([]); // b@y.org was never refused by anyone
    await srv.closedConnection(0);
    expect(srv.transcript[0].filter((l) => l.startsWith('RCPT'))).toEqual([]);
  });

  it('an extra reply after the 354 stops the end of data: the message cannot be accepted behind a stale refusal', async () => {
    const srv = await server({ ehlo: EHLO, on: { DATA: { reply: '354 go ahead', raw: '451 4.3.0 stale\r\n' } } });
    const session = await open(srv.port);
    const error = await thrown(session.sendmail('a@x.org', ['b@y.org'], 'Subject: x\r\n\r\nbody\r\n'));
    expect(error).not.toBeInstanceOf(UncertainDeliveryError);
    expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'data', 451]);
    await srv.closedConnection(0);
    // The server never saw the end of data, so it cannot have taken the message.
    expect(srv.received).toEqual([]);
  });

  it('a reply in the middle of the body stops the end of data too (the server read part of the message)', async () => {
    const upstream = await server({ ehlo: EHLO });
    const proxy = await faultProxy(upstream.port, 64 * 1024, { kind: 'early', bytes: '552 5.3.4 too big, stop\r\n' });
    proxies.push(proxy);
    const session = await open(proxy.port);
    const chunk = Buffer.from(`${'y'.repeat(1022)}\r\n`.repeat(64));
    const body = Readable.from(
      (async function* () {
        yield Buffer.from('Subject: big\r\n\r\n');
        yield chunk;
        yield chunk;
        // End the message only once the early reply has reached the client.
        await untilUnread(session);
        yield chunk;
      })(),
    );
    const error = await thrown(session.sendmail('a@x.org', ['b@y.org'], body));
    expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'data', 552]);
    expect(error).not.toBeInstanceOf(UncertainDeliveryError);
    await upstream.closedConnection(0);
    expect(upstream.received).toEqual([]);
  });

  it('garbage in the middle of the body is EPROTOCOL at stage data, and no end of data is sent', async () => {
    const upstream = await server({ ehlo: EHLO });
    const proxy = await faultProxy(upstream.port, 1, { kind: 'early', bytes: 'HELLO?\r\n' });
    proxies.push(proxy);
    const session = await open(proxy.port);
    const body = Readable.from(
      (async function* () {
        // More than the socket holds back before it writes (the session batches small writes).
        yield Buffer.from(`Subject: x\r\n\r\n${'first line\r\n'.repeat(4096)}`);
        await untilUnread(session);
        yield Buffer.from('second\r\n');
      })(),
    );
    const error = await thrown(session.sendmail('a@x.org', ['b@y.org'], body));
    expect([error.code, error.stage, error.replyCode]).toEqual(['EPROTOCOL', 'data', null]);
    await upstream.closedConnection(0);
    expect(upstream.received).toEqual([]);
  });
});

describe('bounded waits at every step (A13)', () => {
  it.each([
    ['EHLO', { ehlo: { stall: true } }, (s: Session) => s.ehlo(), 'ehlo'],
    ['RSET', { on: { RSET: { stall: true } } }, (s: Session) => s.rset(), 'rset'],
    ['VRFY', { on: { VRFY: { stall: true } } }, (s: Session) => s.verify('x'), 'vrfy'],
    ['an AUTH challenge', { ehlo: EHLO, on: { AUTH: '334 VXNlcm5hbWU6' }, otherwise: { stall: true } }, (s: Session) => s.login('a', 'b', { mechanism: 'LOGIN' }), 'auth'],
  ] as Array<[string, Script, (s: Session) => Promise<unknown>, string]>)('a stalled reply to %s is ETIMEOUT at its stage within maxsecs', async (_what, script, step, stage) => {
    const srv = await server(script);
    const session = await open(srv.port, 1);
    const error = await thrown(step(session));
    expect(error).toBeInstanceOf(SmtpError);
    expect([error.code, error.stage]).toEqual(['ETIMEOUT', stage]);
    expect(session.state).toBe('closed');
  });

  it('QUIT never hangs on a server that does not answer it', async () => {
    const srv = await server({ on: { QUIT: { stall: true } } });
    const session = await open(srv.port, 1);
    await session.noop();
    await expect(session.quit()).resolves.toBeUndefined();
    expect(session.state).toBe('closed');
  });
});
