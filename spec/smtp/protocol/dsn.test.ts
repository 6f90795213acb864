/**
 * Delivery Status Notifications (RFC 3461) and enhanced status codes
 * (RFC 3463, RFC 2034): the DSN parameters on the wire exactly, xtext-encoded,
 * only when the server offers DSN (or the server given up with `dsnrequired`),
 * checked before any connection; and the enhanced code on every refused
 * recipient without changing Tcllib's triple.
 */
import { OptionError } from '../../../lib/errors';
import { finalize, initialize } from '../../../mime';
import { planDsn } from '../../../smtp/protocol/dsn';
import { orcptValue, xtext } from '../../../smtp/protocol/parameters';
import { enhancedOf } from '../../../smtp/protocol/refused';
import { sendmessage } from '../../../smtp/sendmessage';
import { connect } from '../../../smtp/protocol/session';
import { thrown } from '../../support/fixtures';
import type { RealServer } from '../../support/real-server';
import { scriptedServer, type ScriptedServer } from '../../support/scripted-server';
import { liveScope } from '../live-support';

const DSN_EHLO = ['250-dsn.test', '250-PIPELINING', '250-8BITMIME', '250-ENHANCEDSTATUSCODES', '250 DSN'];

function message(): ReturnType<typeof initialize> {
  return initialize({ canonical: 'text/plain', string: 'Hello\r\n' });
}

const HEADER: Array<[string, string]> = [['From', 'ann@example.org'], ['To', 'bob@example.net, carol@example.net'], ['Subject', 'DSN']];

describe('xtext and ORCPT values', () => {
  it('writes printable ASCII as is and everything else, + and = as +HH', () => {
    expect(xtext('id-42')).toBe('id-42');
    expect(xtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
    expect(xtext('\u00e9\r\n')).toBe('+C3+A9+0D+0A');
  });

  it('writes an ASCII address as rfc822 and a UTF-8 address as utf-8-addr-xtext (RFC 6533)', () => {
    expect(orcptValue('bob+tag@example.net')).toBe('rfc822;bob+2Btag@example.net');
    expect(orcptValue('j\u00f6rg@b\u00fccher.example')).toBe('utf-8;j\\x{F6}rg@b\\x{FC}cher.example');
  });
});

describe('DSN on the wire (scripted server)', () => {
  let srv: ScriptedServer | undefined;
  const live = liveScope();

  it('sends NOTIFY and ORCPT per RCPT, RET and ENVID on MAIL, when DSN is offered', async () => {
    srv = await live.scriptedServer({ ehlo: DSN_EHLO });
    const tok = message();
    await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: srv.port,
      header: HEADER,
      notify: ['success', 'failure'],
      ret: 'hdrs',
      envid: 'order 42+x=y',
      orcpt: true,
    });
    finalize(tok);
    const [mail, bob, carol] = srv.transcript[0].filter((line) => /^(MAIL|RCPT)/.test(line));
    expect(mail).toBe('MAIL FROM:<ann@example.org> RET=HDRS ENVID=order+2042+2Bx+3Dy');
    expect(bob).toBe('RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net');
    expect(carol).toBe('RCPT TO:<carol@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol@example.net');
    expect(srv.messages).toHaveLength(1);
  });

  it('reads the same requests from a Tcl-style flat list', async () => {
    srv = await live.scriptedServer({ ehlo: DSN_EHLO });
    const tok = message();
    await sendmessage(tok, '-servers', '127.0.0.1', '-ports', String(srv.port), '-header', ['From', 'ann@example.org'], '-header', ['To', 'bob@example.net'],
      '-notify', 'failure delay', '-ret', 'HDRS', '-envid', 'order-4711', '-orcpt', '1', '-dsnrequired', '1');
    finalize(tok);
    expect(srv.transcript[0].filter((line) => /^(MAIL|RCPT)/.test(line))).toEqual([
      'MAIL FROM:<ann@example.org> RET=HDRS ENVID=order-4711',
      'RCPT TO:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.net',
    ]);
  });

  it('takes NOTIFY and ORCPT per recipient, with a default for the others', async () => {
    srv = await live.scriptedServer({ ehlo: DSN_EHLO });
    const tok = message();
    await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: srv.port,
      header: HEADER,
      notify: { 'Bob@Example.net': 'never', '*': 'failure delay' },
      orcpt: { 'carol@example.net': 'carol.old@example.com' },
    });
    finalize(tok);
    const rcpts = srv.transcript[0].filter((line) => line.startsWith('RCPT'));
    expect(rcpts).toEqual([
      'RCPT TO:<bob@example.net> NOTIFY=NEVER',
      'RCPT TO:<carol@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;carol.old@example.com',
    ]);
    const mail = srv.transcript[0].find((line) => line.startsWith('MAIL'))!;
    expect(mail).not.toMatch(/RET=|ENVID=/);
  });

  it('leaves DSN out when the server does not offer it, and still sends', async () => {
    srv = await live.scriptedServer();
    const tok = message();
    await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, notify: 'failure', ret: 'full', envid: 'x', orcpt: true });
    finalize(tok);
    const lines = srv.transcript[0].filter((line) => /^(MAIL|RCPT)/.test(line));
    expect(lines.join(' ')).not.toMatch(/NOTIFY|ORCPT|RET=|ENVID/);
    expect(srv.messages).toHaveLength(1);
  });

  it('gives up a server without DSN when dsnrequired, before MAIL, and names why', async () => {
    srv = await live.scriptedServer();
    const tok = message();
    const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, notify: 'failure', dsnrequired: true }));
    finalize(tok);
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts[0]).toMatchObject({ stage: 'mail', code: null, diagnostic: expect.stringContaining('does not offer DSN') });
    expect(srv.transcript[0].some((line) => /^(MAIL|RCPT|DATA)/.test(line))).toBe(false);
  });

  it('passes DSN through the session with the parameters the caller gave too', async () => {
    srv = await live.scriptedServer({ ehlo: DSN_EHLO });
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      await session.sendmail('a@x.org', ['b@y.org'], 'Subject: x\r\n\r\nhi\r\n', { dsn: { notify: 'delay', ret: 'full' }, rcptParams: ['X-TEST=1'] });
    } finally {
      await session.quit();
    }
    expect(srv.transcript[0]).toContain('RCPT TO:<b@y.org> X-TEST=1 NOTIFY=DELAY');
    expect(srv.messages[0].mailParams).toEqual(['RET=FULL']);
  });
});

describe('DSN options are checked before any connection', () => {
  it.each([
    ['never with another value', { notify: 'never,success' }, 'notify', /never cannot be combined/],
    ['an unknown NOTIFY keyword', { notify: ['failure', 'always'] }, 'notify', /"always" is not one of/],
    ['an unknown RET', { ret: 'body' }, 'ret', /unknown value for -ret/],
    ['an ENVID with a line break', { envid: 'x\r\nRCPT TO:<evil@x.org>' }, 'envid', /printable ASCII/],
    ['an ENVID longer than 100', { envid: 'x'.repeat(101) }, 'envid', /1 to 100/],
    ['an ORCPT that is not a boolean or a map', { orcpt: 'yes please' }, 'orcpt', /boolean or an object/],
  ])('refuses %s', async (_what, options, option, pattern) => {
    const srv = await scriptedServer();
    const tok = message();
    try {
      let error: unknown;
      try {
        await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, ...(options as object) });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(OptionError);
      expect(error).toMatchObject({ option });
      expect((error as Error).message).toMatch(pattern);
      expect(srv.connections).toBe(0);
    } finally {
      finalize(tok);
      await srv.close();
    }
  });

  it('plans nothing when no DSN option is given', () => {
    const plan = planDsn(undefined);
    expect(plan.requested).toBe(false);
    expect(plan.rcptParams('a@b')).toEqual([]);
  });
});

describe('DSN with smtp-server', () => {
  let real: RealServer | undefined;
  const live = liveScope();

  it('is accepted and read back by a server that offers DSN', async () => {
    real = await live.realServer({ hideSTARTTLS: true, hideDSN: false });
    const tok = message();
    const lines: string[] = [];
    await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: real.port,
      header: HEADER,
      notify: 'success,failure',
      ret: 'hdrs',
      envid: 'QQ314159',
      orcpt: true,
      dsnrequired: true,
      debug: (line) => lines.push(line),
    });
    finalize(tok);
    expect(real.messages[0].mailArgs).toMatchObject({ RET: 'HDRS', ENVID: 'QQ314159' });
    expect(lines).toContain('C: RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net');
    expect(lines.filter((line) => /^S: 250/.test(line)).length).toBeGreaterThan(3);
  });

  it('is left out for a server that hides DSN', async () => {
    real = await live.realServer({ hideSTARTTLS: true, hideDSN: true });
    const tok = message();
    await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, header: HEADER, notify: 'failure', ret: 'hdrs' });
    finalize(tok);
    expect(real.messages[0].mailArgs.RET).toBeUndefined();
  });
});

describe('enhanced status codes on refused recipients', () => {
  let real: RealServer | undefined;
  const live = liveScope();

  it('keeps the Tcllib triple and adds the enhanced code as a non-enumerable property', async () => {
    real = await live.realServer({ hideSTARTTLS: true, refuse: ['carol@example.net'] });
    const tok = message();
    const refused = await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, header: HEADER, atleastone: true });
    finalize(tok);
    expect(refused).toEqual([['carol@example.net', 550, '5.1.1 no such user']]);
    expect(enhancedOf(refused[0])).toBe('5.1.1');
    expect((refused[0] as unknown as { enhanced: string }).enhanced).toBe('5.1.1');
    expect(Object.keys(refused[0])).toEqual(['0', '1', '2']);
    expect(JSON.stringify(refused)).toBe('[["carol@example.net",550,"5.1.1 no such user"]]');
    const [address, code, diagnostic] = refused[0];
    expect([address, code, diagnostic]).toEqual(['carol@example.net', 550, '5.1.1 no such user']);
  });

  it('carries the enhanced code on the thrown error and on its refused entries', async () => {
    real = await live.realServer({ hideSTARTTLS: true, refuse: ['carol@example.net'] });
    const tok = message();
    const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: real.port, header: HEADER }));
    finalize(tok);
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.enhanced).toBe('5.1.1');
    expect(error.rejected.map(enhancedOf)).toEqual(['5.1.1']);
  });

  it('is null when the server gives no enhanced code', async () => {
    const srv = await scriptedServer({ ehlo: ['250-x', '250 8BITMIME'], on: { 'RCPT TO:<carol@example.net>': '550 no such user' } });
    const tok = message();
    try {
      const refused = await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, atleastone: true });
      expect(refused).toEqual([['carol@example.net', 550, 'no such user']]);
      expect(enhancedOf(refused[0])).toBeNull();
    } finally {
      finalize(tok);
      await srv.close();
    }
  });
});
