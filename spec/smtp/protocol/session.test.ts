/**
 * The session against real servers: the npm smtp-server for the happy paths, and
 * the scripted server where the exact client lines and their grouping on the
 * wire matter (PIPELINING, RSET after refusals, RFC 2920 recovery).
 */
import { Readable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { InvalidInputError, OptionError, SmtpError } from '../../../lib/errors';
import { finalize, initialize, setheader } from '../../../mime';
import { connect } from '../../../smtp/protocol/session';
import type { Session } from '../../../smtp/protocol/types';
import { thrown } from '../../support/fixtures';
import type { RealServer } from '../../support/real-server';
import type { ScriptedServer } from '../../support/scripted-server';
import { liveScope } from '../live-support';

const MESSAGE = 'From: a@x.org\r\nTo: b@y.org\r\nSubject: hi\r\n\r\nHello\r\n.leading dot\r\n';

describe('session with smtp-server (npm)', () => {
  let real: RealServer;
  let session: Session | undefined;
  const live = liveScope('quit');

  it('greets, reads the EHLO extensions, and answers questions about them', async () => {
    real = await live.realServer({ size: 1_000_000, hideSTARTTLS: true, authMethods: ['PLAIN', 'LOGIN'] });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    expect(session.greeting.code).toBe(220);
    expect(session.state).toBe('ready');
    const ext = await session.ehlo();
    expect(ext.has('PIPELINING')).toBe(true);
    expect(session.hasExtension('8bitmime')).toBe(true);
    expect(session.extensionParam('SIZE')).toBe('1000000');
    expect(ext.size).toBe(1_000_000);
    expect(session.authMechanisms()).toEqual(['PLAIN', 'LOGIN']);
    expect(session.hasExtension('STARTTLS')).toBe(false);
    expect(session.secure).toBe(false);
  });

  it.each([
    ['a string', () => MESSAGE],
    ['a Buffer', () => Buffer.from(MESSAGE)],
    ['a Readable in small chunks', () => Readable.from(MESSAGE.match(/[\s\S]{1,5}/g)!.map((c) => Buffer.from(c)))],
  ])('sends %s with sendmail', async (_what, source) => {
    real = await live.realServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const refused = await session.sendmail('a@x.org', ['b@y.org', 'c@y.org'], source());
    expect(refused).toEqual([]);
    expect(real.messages).toHaveLength(1);
    expect(real.messages[0]).toMatchObject({ mailFrom: 'a@x.org', rcptTo: ['b@y.org', 'c@y.org'] });
    expect(real.messages[0].data.toString()).toBe(MESSAGE);
    expect(session.state).toBe('ready');
  });

  it('normalizes bare LF and bare CR to CRLF on the way', async () => {
    real = await live.realServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.sendmail('a@x.org', 'b@y.org', 'Subject: x\n\nline1\rline2\n.\nend');
    expect(real.messages[0].data.toString()).toBe('Subject: x\r\n\r\nline1\r\nline2\r\n.\r\nend\r\n');
  });

  it('returns the refused recipients when at least one was accepted (atleastone default true)', async () => {
    real = await live.realServer({ refuse: ['bad@y.org'] });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const refused = await session.sendmail('a@x.org', ['bad@y.org', 'good@y.org'], MESSAGE);
    expect(refused).toEqual([['bad@y.org', 550, '5.1.1 no such user']]);
    expect(real.messages[0].rcptTo).toEqual(['good@y.org']);
  });

  it('declares SIZE and refuses a message over the limit before MAIL', async () => {
    real = await live.realServer({ size: 200 });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.sendmail('a@x.org', 'b@y.org', MESSAGE);
    expect(real.messages[0].mailArgs.SIZE).toBe(String(Buffer.byteLength(MESSAGE)));
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'x'.repeat(300)));
    expect(error).toBeInstanceOf(SmtpError);
    expect([error.code, error.stage]).toEqual(['ESIZE', 'mail']);
    expect(real.messages).toHaveLength(1);
    // Nothing was sent: the session is still usable.
    expect((await session.noop()).code).toBe(250);
  });

  it('declares BODY=8BITMIME for an 8-bit message when offered', async () => {
    real = await live.realServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.sendmail('a@x.org', 'b@y.org', 'Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0 vu\r\n');
    expect(real.messages[0].mailArgs.BODY).toBe('8BITMIME');
    expect(real.messages[0].data.toString('utf8')).toContain('d\u00e9j\u00e0 vu');
    await session.sendmail('a@x.org', 'b@y.org', 'Subject: plain\r\n\r\nascii\r\n');
    expect(real.messages[1].mailArgs.BODY).toBeUndefined();
  });

  it('refuses an 8-bit string before MAIL when the server lacks 8BITMIME (EEXTENSION: the server cannot carry it)', async () => {
    real = await live.realServer({ hide8BITMIME: true });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await expect(session.sendmail('a@x.org', 'b@y.org', 'Subject: x\r\n\r\nna\u00efve\r\n')).rejects.toMatchObject({
      name: 'SmtpError', code: 'EEXTENSION', stage: 'mail', server: '127.0.0.1', port: real.port, message: expect.stringMatching(/offset 16 .*does not offer 8BITMIME: encode the body/),
    });
    expect(real.messages).toHaveLength(0);
  });

  it('applies the same 8-bit rule to data(): refused before DATA, and the session stays usable', async () => {
    real = await live.realServer({ hide8BITMIME: true });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.ehlo();
    expect((await session.mail('a@x.org')).code).toBe(250);
    expect((await session.rcpt('b@y.org')).code).toBe(250);
    await expect(session.data('Subject: x\r\n\r\nna\u00efve\r\n')).rejects.toMatchObject({ code: 'EEXTENSION', stage: 'data' });
    expect(session.state).toBe('rcpt');
    expect((await session.rset()).code).toBe(250);
    await session.sendmail('a@x.org', 'b@y.org', 'Subject: x\r\n\r\nplain\r\n');
    expect(real.messages).toHaveLength(1);
  });

  it('sends a mime token: SIZE never under-stated, BODY=8BITMIME when offered, re-encoded to 7 bits when not', async () => {
    const tok = initialize({ canonical: 'text/plain', param: [['charset', 'UTF-8']], encoding: '8bit', string: 'd\u00e9j\u00e0 vu\n' });
    setheader(tok, 'Subject', 'caf\u00e9');
    try {
      real = await live.realServer({ size: 100_000 });
      session = await live.connect({ server: '127.0.0.1', port: real.port });
      await session.sendmail('a@x.org', 'b@y.org', tok);
      const eight = real.messages[0];
      expect(eight.mailArgs.BODY).toBe('8BITMIME');
      // SIZE may count a CRLF that ends the last line when the mime output has none: never less than what arrives.
      expect(Number(eight.mailArgs.SIZE) - eight.data.length).toBeGreaterThanOrEqual(0);
      expect(Number(eight.mailArgs.SIZE) - eight.data.length).toBeLessThanOrEqual(2);
      expect((await simpleParser(eight.data)).text).toBe('d\u00e9j\u00e0 vu\n');
      await session.quit();
      await real.close();

      real = await live.realServer({ size: 100_000, hide8BITMIME: true });
      session = await live.connect({ server: '127.0.0.1', port: real.port });
      await session.sendmail('a@x.org', 'b@y.org', tok);
      const seven = real.messages[0];
      expect(seven.mailArgs.BODY).toBeUndefined();
      expect(Number(seven.mailArgs.SIZE) - seven.data.length).toBeGreaterThanOrEqual(0);
      expect(Number(seven.mailArgs.SIZE) - seven.data.length).toBeLessThanOrEqual(2);
      expect(seven.data.every((byte) => byte < 0x80)).toBe(true);
      const parsed = await simpleParser(seven.data);
      expect(parsed.text).toBe('d\u00e9j\u00e0 vu\n');
      expect(parsed.subject).toBe('caf\u00e9');
    } finally {
      finalize(tok);
    }
  });

  it('goes step by step: mail, rcpt, data, with the state following', async () => {
    real = await live.realServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.ehlo();
    expect((await session.mail('a@x.org')).code).toBe(250);
    expect(session.state).toBe('mail');
    expect((await session.rcpt('b@y.org')).code).toBe(250);
    expect(session.state).toBe('rcpt');
    const reply = await session.data(Buffer.from(MESSAGE));
    expect(reply.code).toBe(250);
    expect(session.state).toBe('ready');
    expect(real.messages[0].data.toString()).toBe(MESSAGE);
  });

  it('speaks VRFY, EXPN, NOOP, RSET and QUIT', async () => {
    real = await live.realServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.ehlo();
    const [vcode, vtext] = await session.verify('postmaster');
    expect(vcode).toBe(252);
    expect(vtext).toMatch(/no promises/i);
    const [ecode] = await session.expand('staff');
    expect(ecode).toBeGreaterThanOrEqual(500);
    expect((await session.noop()).code).toBe(250);
    await session.mail('a@x.org');
    expect((await session.rset()).code).toBe(250);
    expect(session.state).toBe('ready');
    await session.quit();
    expect(session.state).toBe('closed');
    await expect(session.noop()).rejects.toMatchObject({ code: 'ECONNECTION' });
    await session.quit(); // never throws, also when already closed
    session = undefined;
  });

  it('takes its options as a Tcl-style flat list too', async () => {
    real = await live.realServer();
    session = await live.connect('-server', '127.0.0.1', '-port', String(real.port), '-maxsecs', '30', '-client', 'tcl.example');
    await session.sendmail('a@x.org', 'b@y.org', MESSAGE);
    expect(real.messages).toHaveLength(1);
  });

  it('refuses bad options and bad client names before any I/O', async () => {
    await expect(connect({ port: 'x' as unknown as number })).rejects.toThrow(OptionError);
    await expect(connect({ bogus: 1 } as never)).rejects.toThrow(OptionError);
    await expect(connect({ maxsecs: -1 })).rejects.toThrow(OptionError);
    await expect(connect({ client: 'evil\r\nRCPT TO:<x@y>' })).rejects.toThrow(InvalidInputError);
    await expect(connect({ server: 'host\nname' })).rejects.toThrow(InvalidInputError);
  });
});

describe('session with the scripted server', () => {
  let srv: ScriptedServer;
  let session: Session | undefined;
  const live = liveScope();

  it("says EHLO localhost to a loopback server and QUITs politely", async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', 'b@y.org', 'hi');
    await session.quit();
    await srv.closedConnection(0);
    expect(srv.transcript[0][0]).toBe('EHLO localhost');
    expect(srv.transcript[0].slice(-1)).toEqual(['QUIT']);
  });

  it('pipelines MAIL, every RCPT and DATA in one write when PIPELINING is offered', async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', ['b@y.org', 'c@y.org', 'd@y.org'], 'hi');
    await session.quit();
    await srv.closedConnection(0);
    expect(srv.conns[0].batches).toEqual([
      ['EHLO localhost'],
      ['MAIL FROM:<a@x.org>', 'RCPT TO:<b@y.org>', 'RCPT TO:<c@y.org>', 'RCPT TO:<d@y.org>', 'DATA'],
      ['.'],
      ['QUIT'],
    ]);
  });

  it('sends one command per round trip when PIPELINING is not offered', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-scripted.test', '250 8BITMIME'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', ['b@y.org', 'c@y.org'], 'hi');
    expect(srv.conns[0].batches).toEqual([['EHLO localhost'], ['MAIL FROM:<a@x.org>'], ['RCPT TO:<b@y.org>'], ['RCPT TO:<c@y.org>'], ['DATA'], ['.']]);
  });

  it('measures round trips for 20 recipients: 4 with PIPELINING, 25 without', async () => {
    const recipients = Array.from({ length: 20 }, (_, i) => `r${i}@y.org`);
    const trips: number[] = [];
    for (const ehlo of [undefined, ['250-scripted.test', '250 8BITMIME']]) {
      srv = await live.scriptedServer(ehlo ? { ehlo } : {});
      session = await live.connect({ server: '127.0.0.1', port: srv.port });
      await session.sendmail('a@x.org', recipients, 'Subject: t\r\n\r\nbody\r\n');
      await session.quit();
      await srv.closedConnection(0);
      expect(srv.messages[0].rcptTo).toEqual(recipients);
      trips.push(srv.conns[0].batches.length);
      await srv.close();
    }
    // EHLO, [MAIL + 20 RCPT + DATA], body + dot, QUIT  versus  EHLO, MAIL, 20 x RCPT, DATA, body + dot, QUIT.
    expect(trips).toEqual([4, 25]);
  });

  it('with atleastone false, pipelines MAIL and RCPTs but waits before DATA; a refusal cancels with RSET', async () => {
    srv = await live.scriptedServer({ on: { 'RCPT TO:<bad@x.y>': '550 5.1.1 no such user' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', ['bad@x.y', 'ok@x.y'], 'hi', { atleastone: false }));
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.stage).toBe('rcpt');
    expect(error.rejected).toEqual([['bad@x.y', 550, '5.1.1 no such user']]);
    expect(error.replyCode).toBe(550);
    expect(srv.conns[0].batches.slice(1)).toEqual([['MAIL FROM:<a@x.org>', 'RCPT TO:<bad@x.y>', 'RCPT TO:<ok@x.y>'], ['RSET']]);
    expect(srv.received).toHaveLength(0);
    expect(session.state).toBe('ready');
  });

  it('with atleastone false and every recipient accepted, sends DATA after the RCPT replies', async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', ['b@x.y', 'c@x.y'], 'hi', { atleastone: false });
    expect(srv.conns[0].batches.slice(1)).toEqual([['MAIL FROM:<a@x.org>', 'RCPT TO:<b@x.y>', 'RCPT TO:<c@x.y>'], ['DATA'], ['.']]);
    expect(srv.messages).toHaveLength(1);
  });

  it('reads the pipelined RCPT replies in order, a refusal among them in its place', async () => {
    srv = await live.scriptedServer({ on: { 'RCPT TO:<c@x.y>': '550 5.1.1 no such user' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const rejected = await session.sendmail('a@x.org', ['b@x.y', 'c@x.y', 'd@x.y'], 'hi');
    expect(rejected).toEqual([['c@x.y', 550, '5.1.1 no such user']]);
    expect(srv.messages[0].rcptTo).toEqual(['b@x.y', 'd@x.y']);
  });

  it('a 421 among the pipelined RCPT replies closes the session and names the stage', async () => {
    srv = await live.scriptedServer({ on: { 'RCPT TO:<c@x.y>': '421 4.3.2 shutting down' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', ['b@x.y', 'c@x.y', 'd@x.y'], 'hi'));
    expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'rcpt', 421]);
    expect(session.state).toBe('closed');
    expect(srv.received).toHaveLength(0);
  });

  it('RCPT replies that trickle in stop at the overall deadline: each reply does not start it again', async () => {
    // One reply every 400 ms: the fourth would come at 1.6 s, after maxsecs (1 s).
    srv = await live.scriptedServer({ on: { RCPT: { reply: '250 2.1.5 ok', delayMs: 400 } } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port, maxsecs: 1 });
    const started = Date.now();
    const error = await thrown(session.sendmail('a@x.org', ['b@x.y', 'c@x.y', 'd@x.y', 'e@x.y'], 'hi'));
    expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'rcpt']);
    expect(error.message).toMatch(/overall maxsecs deadline/);
    expect(Date.now() - started).toBeLessThan(1400);
    expect(srv.received).toHaveLength(0);
  });

  it('with atleastone false and one recipient, pipelines DATA: no refusal could cancel a message begun', async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', ['b@x.y'], 'hi', { atleastone: false });
    expect(srv.conns[0].batches.slice(1)).toEqual([['MAIL FROM:<a@x.org>', 'RCPT TO:<b@x.y>', 'DATA'], ['.']]);
    expect(srv.messages).toHaveLength(1);
  });

  it('with atleastone false and its one recipient refused, DATA refused in turn: RSET, ERECIPIENTS, nothing held', async () => {
    srv = await live.scriptedServer({ on: { RCPT: '550 5.1.1 nobody here' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', ['b@x.y'], 'secret body', { atleastone: false }));
    expect([error.code, error.replyCode]).toEqual(['ERECIPIENTS', 550]);
    expect(error.rejected).toEqual([['b@x.y', 550, '5.1.1 nobody here']]);
    expect(srv.conns[0].batches.slice(1)).toEqual([['MAIL FROM:<a@x.org>', 'RCPT TO:<b@x.y>', 'DATA'], ['RSET']]);
    expect(srv.received).toHaveLength(0);
    expect(session.state).toBe('ready');
  });

  it('RFC 2920: DATA taken with no valid recipient gets a lone dot, then RSET, and ERECIPIENTS', async () => {
    srv = await live.scriptedServer({ on: { RCPT: '550 5.1.1 nobody here', DATA: '354 go ahead' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', ['b@x.y', 'c@x.y'], 'secret body'));
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.rejected.map(([a]) => a)).toEqual(['b@x.y', 'c@x.y']);
    expect(srv.received).toHaveLength(1);
    expect(srv.received[0].raw.toString()).toBe('.\r\n');
    expect(srv.received[0].rcptTo).toEqual([]);
    expect(srv.transcript[0].slice(-2)).toEqual(['.', 'RSET']);
  });

  it('a refused sender gets RSET and ESMTP at stage mail', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { MAIL: '553 5.1.8 bad sender' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'hi'));
    expect([error.code, error.stage, error.replyCode, error.enhanced]).toEqual(['ESMTP', 'mail', 553, '5.1.8']);
    expect(error.lines).toEqual(['5.1.8 bad sender']);
    expect(srv.transcript[0].slice(1)).toEqual(['MAIL FROM:<a@x.org>', 'RSET']);
  });

  it('a sender refused while DATA was pipelined and taken: the connection is dropped, no dot', async () => {
    srv = await live.scriptedServer({ on: { MAIL: '553 5.1.8 bad sender', RCPT: '503 5.5.1 need MAIL first', DATA: '354 go ahead' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'hi'));
    expect([error.code, error.stage]).toEqual(['ESMTP', 'mail']);
    await srv.closedConnection(0);
    expect(srv.transcript[0]).not.toContain('.');
    expect(session.state).toBe('closed');
  });

  it('DATA refused: RSET and ESMTP at stage data', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { DATA: '554 5.5.1 no valid recipients' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'hi'));
    expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'data', 554]);
    expect(srv.transcript[0].slice(-2)).toEqual(['DATA', 'RSET']);
  });

  it('the message refused at the dot: ESMTP at stage dot, the session still usable', async () => {
    srv = await live.scriptedServer({ on: { '.': '552 5.3.4 message too big' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'hi'));
    expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'dot', 552]);
    expect(session.state).toBe('ready');
    expect((await session.noop()).code).toBe(250);
  });

  it('sends BODY=8BITMIME for a stream when offered, and refuses 8-bit bytes mid-stream when not (no dot sent)', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 PIPELINING'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', Readable.from([Buffer.from('ascii\r\n'), Buffer.from('caf\u00e9\r\n')])));
    // The server lacks an extension the message needs: EEXTENSION, not a failure of the message source.
    expect([error.code, error.stage]).toEqual(['EEXTENSION', 'body']);
    expect(error.message).toMatch(/offset 10/);
    await srv.closedConnection(0);
    expect(srv.received).toHaveLength(0);
    await srv.close();

    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', 'b@y.org', Readable.from([Buffer.from('x')]));
    expect(srv.messages[0].mailParams).toEqual(['BODY=8BITMIME']);
  });

  it('converts an IDN domain to A-labels without SMTPUTF8, and uses SMTPUTF8 when offered', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@b\u00fccher.example', 'b@y.org', 'hi');
    expect(srv.transcript[0][1]).toBe('MAIL FROM:<a@xn--bcher-kva.example>');
    // The server's shortcoming, not bad input: EEXTENSION, so sendmessage's walk may try a server that offers SMTPUTF8.
    await expect(session.sendmail('j\u00f6rg@x.org', 'b@y.org', 'hi')).rejects.toMatchObject({
      code: 'EEXTENSION', stage: 'mail', message: expect.stringMatching(/non-ASCII local part .*does not offer SMTPUTF8/),
    });
    expect(srv.transcript[0].filter((line) => /^(MAIL|RCPT|DATA)/.test(line))).toEqual(['MAIL FROM:<a@xn--bcher-kva.example>', 'RCPT TO:<b@y.org>', 'DATA']);
    await srv.close();

    srv = await live.scriptedServer({ ehlo: ['250-x', '250 SMTPUTF8'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('j\u00f6rg@x.org', 'b@y.org', 'hi');
    expect(srv.messages[0].mailParams).toEqual(['SMTPUTF8']);
  });

  it('refuses injection in an address before writing a byte', async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await expect(session.sendmail('a@x.org', '"x\r\nRCPT TO:<evil@x.org>\r\nNOOP "@b.org', 'hi')).rejects.toThrow(InvalidInputError);
    await expect(session.sendmail('a@x.org', 'b@y.org', 'hi', { mailParams: ['RET=HDRS\r\nRCPT TO:<e@x>'] })).rejects.toThrow(InvalidInputError);
    await expect(session.mail('a@x.org>\r\nRSET')).rejects.toThrow(InvalidInputError);
    await expect(session.verify('x\r\nDATA')).rejects.toThrow(InvalidInputError);
    await session.quit();
    await srv.closedConnection(0);
    expect(srv.transcript[0]).toEqual(['QUIT']);
  });

  it('serializes concurrent calls so they cannot interleave on the wire', async () => {
    srv = await live.scriptedServer({ on: { NOOP: { reply: '250 ok', delayMs: 20 } } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const replies = await Promise.all([session.noop(), session.verify('x'), session.noop()]);
    expect(replies.map((r) => (Array.isArray(r) ? r[0] : r.code))).toEqual([250, 252, 250]);
    expect(srv.conns[0].batches).toEqual([['NOOP'], ['VRFY x'], ['NOOP']]);
  });

  it('writes a debug transcript of C: and S: lines', async () => {
    srv = await live.scriptedServer();
    const lines: string[] = [];
    session = await live.connect({ server: '127.0.0.1', port: srv.port, debug: (l) => lines.push(l) });
    await session.sendmail('a@x.org', 'b@y.org', 'hello');
    expect(lines).toEqual(
      expect.arrayContaining([
        'S: 220 scripted.test ESMTP ready',
        'C: EHLO localhost',
        'C: MAIL FROM:<a@x.org>',
        'C: RCPT TO:<b@y.org>',
        'C: DATA',
        'S: 354 end data with <CR><LF>.<CR><LF>',
        'C: [message: 7 bytes]',
        'C: .',
        'S: 250 2.0.0 queued',
      ]),
    );
    expect(lines.indexOf('C: DATA')).toBeLessThan(lines.indexOf('C: [message: 7 bytes]'));
    expect(lines.every((l) => /^(C|S): |^-- /.test(l))).toBe(true);
  });
});
