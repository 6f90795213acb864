/**
 * SMTP AUTH (RFC 4954): each mechanism against smtp-server, the order Tcllib
 * uses (strongest offered first, falling back on 535), failures that are
 * thrown rather than ignored (Tcllib carried on unauthenticated), credentials
 * kept off plaintext links, and masked in the debug transcript.
 */
import { InvalidInputError, SmtpError } from '../../../lib/errors';
import { chooseMechanisms, cramMd5Response, credentialsMayTravel, plainResponse, xoauth2Response } from '../../../smtp/protocol/auth';
import type { Session } from '../../../smtp/protocol/types';
import { testCertificate } from '../../support/certs';
import { thrown } from '../../support/fixtures';
import type { RealServer } from '../../support/real-server';
import type { ScriptedServer } from '../../support/scripted-server';
import { liveScope } from '../live-support';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('SASL responses', () => {
  it('computes CRAM-MD5 as in RFC 2195 section 2', () => {
    const response = cramMd5Response('tim', 'tanstaaftanstaaf', Buffer.from('<1896.697170952@postoffice.reston.mci.net>'));
    expect(Buffer.from(response, 'base64').toString()).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
  });

  it('frames PLAIN as NUL user NUL password (RFC 4616) and refuses NUL inside', () => {
    expect(Buffer.from(plainResponse('user', 'pa ss'), 'base64').toString()).toBe('\0user\0pa ss');
    expect(() => plainResponse('us\0er', 'x')).toThrow(InvalidInputError);
  });

  it('frames XOAUTH2 with ^A separators', () => {
    expect(Buffer.from(xoauth2Response('me@x.org', 'tok'), 'base64').toString()).toBe('user=me@x.org\x01auth=Bearer tok\x01\x01');
  });

  it('orders mechanisms strongest first, XOAUTH2 only with a token', () => {
    const offered = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2', 'GSSAPI'];
    expect(chooseMechanisms(offered, { user: 'u', password: 'p' })).toEqual(['CRAM-MD5', 'LOGIN', 'PLAIN']);
    expect(chooseMechanisms(offered, { user: 'u', password: 'p', oauth2: 't' })).toEqual(['XOAUTH2', 'CRAM-MD5', 'LOGIN', 'PLAIN']);
    expect(chooseMechanisms(offered, { user: 'u', password: 'p' }, 'plain')).toEqual(['PLAIN']);
    expect(chooseMechanisms(['LOGIN'], { user: 'u', password: 'p' }, 'PLAIN')).toEqual([]);
    expect(() => chooseMechanisms(offered, { user: 'u', password: 'p' }, 'GSSAPI')).toThrow(InvalidInputError);
  });

  it('lets credentials travel only over TLS, to loopback, or with insecureauth', () => {
    expect(credentialsMayTravel(false, '192.0.2.7', false)).toBe(false);
    expect(credentialsMayTravel(false, '2001:db8::1', false)).toBe(false);
    expect(credentialsMayTravel(false, undefined, false)).toBe(false);
    expect(credentialsMayTravel(true, '192.0.2.7', false)).toBe(true);
    expect(credentialsMayTravel(false, '192.0.2.7', true)).toBe(true);
    for (const loopback of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(credentialsMayTravel(false, loopback, false)).toBe(true);
  });
});

describe('AUTH with smtp-server (npm)', () => {
  let real: RealServer;
  let session: Session | undefined;
  const live = liveScope();

  it.each(['PLAIN', 'LOGIN', 'CRAM-MD5'])('logs in with %s and sends as that user', async (method) => {
    real = await live.realServer({ authMethods: [method], allowInsecureAuth: true, users: { alice: 's3cret pass' } });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const reply = await session.login('alice', 's3cret pass');
    expect(reply.code).toBe(235);
    expect(real.auths).toEqual([{ method, username: 'alice', ok: true }]);
    await session.sendmail('alice@x.org', 'b@y.org', 'hi');
    expect(real.messages[0].user).toBe('alice');
  });

  it('logs in with XOAUTH2 when given a token, and fails with EAUTH on a bad one', async () => {
    real = await live.realServer({ authMethods: ['XOAUTH2'], allowInsecureAuth: true, tokens: { alice: 'ya29.good' } });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const error = await thrown(session.login('alice', '', { oauth2: 'ya29.bad' }));
    expect([error.code, error.stage, error.replyCode]).toEqual(['EAUTH', 'auth', 535]);
    expect((await session.login('alice', '', { oauth2: 'ya29.good' })).code).toBe(235);
    expect(real.auths.map((a) => a.ok)).toEqual([false, true]);
  });

  it('picks the strongest mechanism offered (CRAM-MD5 before LOGIN and PLAIN)', async () => {
    real = await live.realServer({ authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'], allowInsecureAuth: true, users: { bob: 'pw' } });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.login('bob', 'pw');
    expect(real.auths).toEqual([{ method: 'CRAM-MD5', username: 'bob', ok: true }]);
  });

  it('uses the one mechanism asked for', async () => {
    real = await live.realServer({ authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'], allowInsecureAuth: true, users: { bob: 'pw' } });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.login('bob', 'pw', { mechanism: 'plain' });
    expect(real.auths).toEqual([{ method: 'PLAIN', username: 'bob', ok: true }]);
  });

  it('throws EAUTH when every mechanism is refused with 535, after trying each in turn', async () => {
    real = await live.realServer({ authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'], allowInsecureAuth: true, users: { bob: 'pw' } });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const error = await thrown(session.login('bob', 'wrong'));
    expect(error).toBeInstanceOf(SmtpError);
    expect([error.code, error.stage, error.replyCode]).toEqual(['EAUTH', 'auth', 535]);
    expect(real.auths.map((a) => a.method)).toEqual(['CRAM-MD5', 'LOGIN', 'PLAIN']);
  });

  it('logs in after STARTTLS, where smtp-server requires TLS first', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ key: cert.key, cert: cert.cert, users: { carol: 'pw' } });
    session = await live.connect({ server: 'localhost', port: real.port });
    await session.ehlo();
    await expect(session.login('carol', 'pw', { mechanism: 'PLAIN' })).rejects.toMatchObject({ code: 'EAUTH', replyCode: 538 });
    await session.starttls({ ca: cert.ca });
    expect((await session.login('carol', 'pw')).code).toBe(235);
  });
});

describe('AUTH with the scripted server', () => {
  let srv: ScriptedServer;
  let session: Session | undefined;
  const live = liveScope();

  it('falls back from CRAM-MD5 to LOGIN on 535, as Tcllib does', async () => {
    srv = await live.scriptedServer({
      ehlo: ['250-x', '250 AUTH PLAIN LOGIN CRAM-MD5'],
      on: {
        'AUTH CRAM-MD5': `334 ${b64('<1.2@x>')}`,
        'AUTH LOGIN': `334 ${b64('Username:')}`,
        [b64('dave')]: `334 ${b64('Password:')}`,
        [b64('pw')]: '235 2.7.0 ok',
      },
      otherwise: '535 5.7.8 bad credentials',
    });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    expect((await session.login('dave', 'pw')).code).toBe(235);
    const [cram] = srv.transcript[0].slice(2, 3);
    expect(Buffer.from(cram, 'base64').toString()).toMatch(/^dave [0-9a-f]{32}$/);
    expect(srv.transcript[0]).toEqual(['EHLO localhost', 'AUTH CRAM-MD5', cram, 'AUTH LOGIN', b64('dave'), b64('pw')]);
  });

  it('sends PLAIN alone when only AUTH=PLAIN is offered (old-style line)', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 AUTH=PLAIN'], on: { 'AUTH PLAIN': '235 ok' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.login('u', 'p');
    expect(srv.transcript[0][1]).toBe(`AUTH PLAIN ${b64('\0u\0p')}`);
  });

  it('a 4xx is ESMTP at stage auth, not a credentials failure', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 AUTH PLAIN LOGIN'], on: { AUTH: '454 4.7.0 temporary authentication failure' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.login('u', 'p'));
    expect([error.code, error.stage, error.replyCode, error.enhanced]).toEqual(['ESMTP', 'auth', 454, '4.7.0']);
    expect(srv.transcript[0].filter((l) => l.startsWith('AUTH'))).toEqual(['AUTH LOGIN']);
  });

  it('no AUTH offered is EAUTH, with nothing sent', async () => {
    srv = await live.scriptedServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await expect(session.login('u', 'p')).rejects.toMatchObject({ code: 'EAUTH', stage: 'auth' });
    expect(srv.transcript[0]).toEqual(['EHLO localhost']);
  });

  it('answers an endless run of 334 challenges a bounded number of times, then cancels with *', async () => {
    srv = await live.scriptedServer({
      ehlo: ['250-x', '250 AUTH LOGIN'],
      on: { 'AUTH LOGIN': `334 ${b64('Username:')}`, '*': '501 5.7.0 cancelled' },
      otherwise: `334 ${b64('Again:')}`,
    });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.login('u', 'p'));
    expect([error.code, error.replyCode]).toEqual(['EAUTH', 501]);
    const lines = srv.transcript[0];
    expect(lines[lines.length - 1]).toBe('*');
    expect(lines.length).toBeLessThanOrEqual(2 + 6);
  });

  it('stops answering after five challenges: an XOAUTH2 server that never ends gets * (Tcllib looped forever)', async () => {
    srv = await live.scriptedServer({
      ehlo: ['250-x', '250 AUTH XOAUTH2'],
      on: { 'AUTH XOAUTH2': `334 ${b64('{"status":"401"}')}`, '*': '501 5.7.0 cancelled' },
      otherwise: `334 ${b64('{"status":"401"}')}`,
    });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.login('u', '', { oauth2: 'token' }));
    expect([error.code, error.replyCode]).toEqual(['EAUTH', 501]);
    expect(srv.transcript[0].slice(2)).toEqual(['', '', '', '', '', '*']);
  });

  it('masks every credential in the debug transcript', async () => {
    srv = await live.scriptedServer({
      ehlo: ['250-x', '250 AUTH PLAIN LOGIN CRAM-MD5'],
      on: {
        'AUTH CRAM-MD5': `334 ${b64('<9.9@x>')}`,
        'AUTH LOGIN': `334 ${b64('Username:')}`,
        [b64('erin')]: `334 ${b64('Password:')}`,
        'AUTH PLAIN': '235 2.7.0 ok',
      },
      otherwise: '535 5.7.8 no',
    });
    const lines: string[] = [];
    session = await live.connect({ server: '127.0.0.1', port: srv.port, debug: (l) => lines.push(l) });
    await session.login('erin', 'hunter2');
    const dialogue = lines.filter((l) => /^[CS]: /.test(l));
    expect(dialogue).toEqual([
      'S: 220 scripted.test ESMTP ready',
      'C: EHLO localhost',
      'S: 250-x',
      'S: 250 AUTH PLAIN LOGIN CRAM-MD5',
      'C: AUTH CRAM-MD5',
      `S: 334 ${b64('<9.9@x>')}`,
      'C: ****',
      'S: 535 5.7.8 no',
      'C: AUTH LOGIN',
      `S: 334 ${b64('Username:')}`,
      'C: ****',
      `S: 334 ${b64('Password:')}`,
      'C: ****',
      'S: 535 5.7.8 no',
      'C: AUTH PLAIN ****',
      'S: 235 2.7.0 ok',
    ]);
    const all = lines.join('\n');
    for (const secret of ['hunter2', b64('erin'), b64('hunter2'), b64('\0erin\0hunter2')]) expect(all).not.toContain(secret);
  });
});
