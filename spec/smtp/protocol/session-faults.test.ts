/**
 * A broken or hostile server, scripted: garbage, endless and mixed-code replies,
 * stalls, drops at each stage, 421, and the end-of-data gap. Every case says
 * what is thrown and what the server saw (docs/security.md, A12-A15).
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { type SmtpError, UncertainDeliveryError } from '../../../lib/errors';
import { connect } from '../../../smtp/protocol/session';
import type { Session } from '../../../smtp/protocol/types';
import { closedPort, failure } from '../../support/fixtures';
import type { ScriptedServer } from '../../support/scripted-server';
import { liveScope } from '../live-support';

describe('session faults', () => {
  let srv: ScriptedServer | undefined;
  let session: Session | undefined;
  const live = liveScope();

  const open = async (extra: { maxsecs?: number } = {}): Promise<Session> => {
    session = await live.connect({ server: '127.0.0.1', port: srv!.port, ...extra });
    return session;
  };

  describe('connect and greeting', () => {
    it('a refused connection is ECONNECTION at stage connect', async () => {
      const port = await closedPort();
      const error = await failure(connect({ server: '127.0.0.1', port }));
      expect([error.code, error.stage, error.server, error.port]).toEqual(['ECONNECTION', 'connect', '127.0.0.1', port]);
    });

    it('a greeting that is not 220 is ESMTP at stage greeting; the connection is closed without QUIT', async () => {
      srv = await live.scriptedServer({ greeting: '554 5.3.2 go away' });
      const error = await failure(open());
      expect([error.code, error.stage, error.replyCode, error.enhanced]).toEqual(['ESMTP', 'greeting', 554, '5.3.2']);
      await srv.closedConnection(0);
      expect(srv.transcript[0]).toEqual([]);
    });

    it('a 421 greeting is ESMTP at stage greeting', async () => {
      srv = await live.scriptedServer({ greeting: '421 4.3.2 busy, try later' });
      const error = await failure(open());
      expect([error.stage, error.replyCode]).toEqual(['greeting', 421]);
    });

    it('a garbage greeting is EPROTOCOL', async () => {
      srv = await live.scriptedServer({ greeting: { raw: 'SSH-2.0-OpenSSH_9.6\r\n' } });
      const error = await failure(open());
      expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'greeting']);
      await srv.closedConnection(0);
    });

    it('a stalled greeting times out within maxsecs', async () => {
      srv = await live.scriptedServer({ greeting: { stall: true } });
      const error = await failure(open({ maxsecs: 1 }));
      expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'greeting']);
      expect(error.message).toMatch(/maxsecs/);
      expect(error.message).toMatch(new RegExp(`^no SMTP greeting from 127\\.0\\.0\\.1:${srv.port} \\(read from server timed out .*\\) — is this an SMTP port\\?$`));
    });

    it('an HTTP port (silent until asked) gets the same question, and so does one that speaks another protocol', async () => {
      // A real HTTP server on loopback: it waits for a request and never greets.
      const web = createServer((_req, res) => res.end('hello'));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', () => resolve()));
      try {
        const port = (web.address() as { port: number }).port;
        const error = await failure(connect({ server: '127.0.0.1', port, maxsecs: 1 }));
        expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'greeting']);
        expect(error.message).toMatch(new RegExp(`^no SMTP greeting from 127\\.0\\.0\\.1:${port} .* is this an SMTP port\\?$`));
      } finally {
        web.closeAllConnections();
        await new Promise<void>((resolve) => web.close(() => resolve()));
      }
      srv = await live.scriptedServer({ greeting: { raw: 'SSH-2.0-OpenSSH_9.6\r\n' } });
      expect((await failure(open())).message).toMatch(/^no SMTP greeting from .* is this an SMTP port\?$/);
    });

    it('a dropped greeting is ECONNECTION at stage greeting', async () => {
      srv = await live.scriptedServer({ greeting: { drop: true } });
      const error = await failure(open());
      expect([error.code, error.stage]).toEqual(['ECONNECTION', 'greeting']);
    });

    it('one timer covers the whole reply: a server trickling lines cannot stretch it', async () => {
      // A line every 250 ms would beat a per-line timer of 1 s forever; the reply ends only after 3 s.
      const trickle: Array<string | number> = [];
      for (let i = 0; i < 12; i++) trickle.push(`220-line ${i}\r\n`, 250);
      trickle.push('220 finally\r\n');
      srv = await live.scriptedServer({ greeting: { chunks: trickle } });
      const error = await failure(open({ maxsecs: 1 }));
      expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'greeting']);
    });

    it('reads a reply split anywhere across writes', async () => {
      srv = await live.scriptedServer({
        greeting: { chunks: ['2', 20, '20-first\r', 20, '\n220 sec', 20, 'ond\r\n'] },
        ehlo: { chunks: ['250-x\r\n250-PIPE', 20, 'LINING\r\n250 8BITMIME\r\n'] },
      });
      await open();
      expect(session!.greeting.lines).toEqual(['first', 'second']);
      await session!.ehlo();
      expect(session!.hasExtension('PIPELINING')).toBe(true);
    });
  });

  describe('bounded replies', () => {
    it('an endless multi-line reply is EPROTOCOL, not unbounded memory', async () => {
      srv = await live.scriptedServer({ ehlo: { endless: '250-ENDLESS' } });
      await open();
      const error = await failure(session!.ehlo());
      expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'ehlo']);
      expect(error.message).toMatch(/1000 lines/);
      expect(session!.state).toBe('closed');
    });

    it('a multi-line reply with mixed codes is EPROTOCOL', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '550 nope'] });
      await open();
      const error = await failure(session!.ehlo());
      expect([error.code, error.stage]).toEqual(['EPROTOCOL', 'ehlo']);
    });

    it('a reply line over 8 KiB is EPROTOCOL, with or without its line end', async () => {
      srv = await live.scriptedServer({
        on: { NOOP: `250 ${'x'.repeat(9000)}`, VRFY: { raw: `250 ${'y'.repeat(20000)}` } },
      });
      await open();
      expect((await failure(session!.noop())).code).toBe('EPROTOCOL');
      await open();
      expect((await failure(session!.verify('a'))).code).toBe('EPROTOCOL');
    });

    it('accepts a long but reasonable line (2 KiB)', async () => {
      srv = await live.scriptedServer({ on: { NOOP: `250 ${'z'.repeat(2048)}` } });
      await open();
      expect((await session!.noop()).text).toHaveLength(2048);
    });
  });

  describe('EHLO and HELO', () => {
    it('EHLO 5xx falls back to HELO', async () => {
      srv = await live.scriptedServer({ ehlo: '500 5.5.1 command unrecognized' });
      await open();
      await session!.ehloOrHelo();
      expect(srv.transcript[0]).toEqual(['EHLO localhost', 'HELO localhost']);
      expect(session!.extensions).toBeNull();
      expect(session!.hasExtension('PIPELINING')).toBe(false);
      await session!.sendmail('a@x.org', ['b@y.org', 'c@y.org'], 'hi');
      expect(srv.conns[0].batches.slice(2)).toEqual([['MAIL FROM:<a@x.org>'], ['RCPT TO:<b@y.org>'], ['RCPT TO:<c@y.org>'], ['DATA'], ['.']]);
    });

    it('EHLO 421 is thrown without HELO, and the session is closed', async () => {
      srv = await live.scriptedServer({ ehlo: '421 4.3.2 shutting down' });
      await open();
      const error = await failure(session!.ehloOrHelo());
      expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'ehlo', 421]);
      expect(session!.state).toBe('closed');
      expect(srv.transcript[0]).toEqual(['EHLO localhost']);
    });

    it('EHLO 4xx is thrown without HELO', async () => {
      srv = await live.scriptedServer({ ehlo: '451 4.3.0 local error' });
      await open();
      const error = await failure(session!.ehloOrHelo());
      expect([error.stage, error.replyCode]).toEqual(['ehlo', 451]);
      expect(srv.transcript[0]).toEqual(['EHLO localhost']);
      expect(session!.state).toBe('ready');
    });

    it('a drop after EHLO is ECONNECTION at stage ehlo', async () => {
      srv = await live.scriptedServer({ ehlo: { drop: true } });
      await open();
      const error = await failure(session!.ehloOrHelo());
      expect([error.code, error.stage]).toEqual(['ECONNECTION', 'ehlo']);
    });
  });

  describe('STARTTLS and AUTH', () => {
    it('a drop after STARTTLS is ECONNECTION at stage starttls', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 STARTTLS'], on: { STARTTLS: { drop: true } } });
      await open();
      const error = await failure(session!.starttls());
      expect([error.code, error.stage]).toEqual(['ECONNECTION', 'starttls']);
    });

    it('a drop during AUTH is ECONNECTION at stage auth', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 AUTH PLAIN'], on: { AUTH: { drop: true } } });
      await open();
      const error = await failure(session!.login('u', 'p'));
      expect([error.code, error.stage]).toEqual(['ECONNECTION', 'auth']);
    });

    it('a 421 during AUTH closes the session', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 AUTH LOGIN'], on: { 'AUTH LOGIN': '421 4.7.0 too many errors' } });
      await open();
      const error = await failure(session!.login('u', 'p'));
      expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'auth', 421]);
      expect(session!.state).toBe('closed');
    });
  });

  describe('the transaction', () => {
    it('a 421 to MAIL closes the session: no RSET, no QUIT', async () => {
      srv = await live.scriptedServer({ on: { MAIL: '421 4.4.5 too busy' } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'hi'));
      expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'mail', 421]);
      expect(session!.state).toBe('closed');
      await session!.quit();
      await srv.closedConnection(0);
      expect(srv.transcript[0]).not.toContain('RSET');
      expect(srv.transcript[0]).not.toContain('QUIT');
    });

    it('a 421 to one RCPT closes the session', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { 'RCPT TO:<c@y.org>': '421 4.3.0 bye' } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', ['b@y.org', 'c@y.org'], 'hi'));
      expect([error.stage, error.replyCode]).toEqual(['rcpt', 421]);
      await srv.closedConnection(0);
      expect(srv.transcript[0].slice(-1)).toEqual(['RCPT TO:<c@y.org>']);
    });

    it.each([
      ['MAIL', 'mail'],
      ['RCPT', 'rcpt'],
      ['DATA', 'data'],
    ])('a drop after %s is ECONNECTION at stage %s', async (verb, stage) => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { [verb]: { drop: true } } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'hi'));
      expect([error.code, error.stage]).toEqual(['ECONNECTION', stage]);
      expect(error).not.toBeInstanceOf(UncertainDeliveryError);
    });

    it('a stall after DATA times out at stage data', async () => {
      srv = await live.scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { DATA: { stall: true } } });
      await open({ maxsecs: 1 });
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'hi'));
      expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'data']);
    });

    it('maxsecs bounds the whole session, not each step', async () => {
      srv = await live.scriptedServer({ on: { NOOP: { reply: '250 ok', delayMs: 400 } } });
      await open({ maxsecs: 1 });
      await session!.noop();
      await session!.noop();
      const error = await failure(session!.noop());
      expect(error.code).toBe('ETIMEOUT');
    });

    it('a drop while the body is being written is not delivered, and no dot is sent', async () => {
      srv = await live.scriptedServer({ on: { DATA: { reply: '354 go', drop: true } } });
      await open();
      const slow = Readable.from(
        (async function* () {
          yield Buffer.from('first line\r\n');
          await new Promise((resolve) => setTimeout(resolve, 150));
          yield Buffer.from('second line\r\n');
        })(),
      );
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', slow));
      expect(error).not.toBeInstanceOf(UncertainDeliveryError);
      expect([error.code, error.stage]).toEqual(['ECONNECTION', 'data']);
      expect(srv.received).toHaveLength(0);
    });

    it('a message source that fails mid-body closes the connection without the dot (ESOURCE, stage body)', async () => {
      srv = await live.scriptedServer();
      await open();
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('Subject: half\r\n\r\nfirst part\r\n');
          throw new Error('disk read failed');
        })(),
      );
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', failing));
      expect([error.code, error.stage]).toEqual(['ESOURCE', 'body']);
      expect(error.message).toMatch(/disk read failed/);
      await srv.closedConnection(0);
      expect(srv.received).toHaveLength(0);
      expect(srv.transcript[0]).not.toContain('.');
    });
  });

  describe('the end-of-data gap', () => {
    it('a drop after the dot is an uncertain delivery, not a failure', async () => {
      srv = await live.scriptedServer({ on: { '.': { drop: true } } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'important'));
      expect(error).toBeInstanceOf(UncertainDeliveryError);
      expect([error.code, error.stage, error.server, error.port]).toEqual(['EUNCERTAIN', 'dot', '127.0.0.1', srv.port]);
      expect(error.message).toMatch(/may have been delivered/);
      expect(srv.received).toHaveLength(1);
      expect(session!.state).toBe('closed');
    });

    it('no reply to the dot within maxsecs is an uncertain delivery', async () => {
      srv = await live.scriptedServer({ on: { '.': { stall: true } } });
      await open({ maxsecs: 1 });
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'important'));
      expect(error).toBeInstanceOf(UncertainDeliveryError);
      expect((error.cause as SmtpError).code).toBe('ETIMEOUT');
    });

    it('garbage in reply to the dot is an uncertain delivery', async () => {
      srv = await live.scriptedServer({ on: { '.': { raw: 'OK THANKS\r\n' } } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'important'));
      expect(error).toBeInstanceOf(UncertainDeliveryError);
      expect((error.cause as SmtpError).code).toBe('EPROTOCOL');
    });

    it('a 421 to the dot is a refusal at stage dot, not uncertain', async () => {
      srv = await live.scriptedServer({ on: { '.': '421 4.3.0 shutting down' } });
      await open();
      const error = await failure(session!.sendmail('a@x.org', 'b@y.org', 'important'));
      expect(error).not.toBeInstanceOf(UncertainDeliveryError);
      expect([error.code, error.stage, error.replyCode]).toEqual(['ESMTP', 'dot', 421]);
    });
  });
});
