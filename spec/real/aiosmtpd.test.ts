/**
 * aiosmtpd (Debian's python3-aiosmtpd) on 127.0.0.1 with STARTTLS and AUTH
 * PLAIN/LOGIN required (spec/support/aiosmtpd.ts). The first block proves
 * the harness with nodemailer; the second drives it with tclmail's session.
 */
import nodemailer from 'nodemailer';
import * as mime from '../../mime';
import * as smtp from '../../smtp';
import type { Session } from '../../smtp';
import { SmtpError } from '../../lib/errors';
import { type AiosmtpdServer, describeWithAiosmtpd, startAiosmtpd } from '../support/aiosmtpd';
import { RawClient } from './raw-client';

const account = { user: 'ann', password: 'pä55 word' };

function message(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

describeWithAiosmtpd('aiosmtpd harness, proved with nodemailer', () => {
  let srv: AiosmtpdServer;
  beforeAll(async () => {
    srv = await startAiosmtpd({ tls: true, auth: account });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  function transport(method: 'PLAIN' | 'LOGIN', pass = account.password) {
    return nodemailer.createTransport({
      host: srv.host,
      port: srv.port,
      requireTLS: true,
      tls: { ca: srv.ca },
      authMethod: method,
      auth: { user: account.user, pass },
    });
  }

  test('offers STARTTLS but no AUTH before TLS, and refuses MAIL until STARTTLS', async () => {
    const { client, greeting } = await RawClient.connect(srv.port);
    expect(greeting.code).toBe(220);
    const ehlo = await client.command('EHLO client.example');
    expect(ehlo.lines.slice(1)).toContain('STARTTLS');
    expect(ehlo.lines.some((line) => /^AUTH\b/i.test(line))).toBe(false);
    const mail = await client.command('MAIL FROM:<a@example.org>');
    await client.quit();
    expect(mail.code).toBe(530);
  });

  test.each(['PLAIN', 'LOGIN'] as const)('AUTH %s over STARTTLS: the message is recorded byte for byte', async (method) => {
    const before = srv.messages.length;
    const authsBefore = srv.auths.length;
    const sent = message(['From: ann@example.org', 'To: bo@example.net', `Subject: via ${method}`, '', '.dot line', 'Grüße']);
    await transport(method).sendMail({ envelope: { from: 'ann@example.org', to: ['bo@example.net'] }, raw: sent });
    const [got] = (await srv.waitForMessages(before + 1)).slice(before);
    expect(got.data.equals(sent)).toBe(true);
    expect(got.mailFrom).toBe('ann@example.org');
    expect(got.rcptTos).toEqual(['bo@example.net']);
    expect(got.tls).toBe(true);
    expect(got.user).toBe(account.user);
    const auth = (await srv.waitForAuths(authsBefore + 1))[authsBefore];
    expect(auth).toEqual({ mechanism: method, login: account.user, ok: true, tls: true });
  });

  test('a wrong password is refused with 535', async () => {
    await expect(
      transport('PLAIN', 'wrong').sendMail({ envelope: { from: 'ann@example.org', to: ['bo@example.net'] }, raw: message(['Subject: x', '', 'x']) }),
    ).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
  });

  test('STARTTLS fails verification without the test CA', async () => {
    const plain = nodemailer.createTransport({ host: srv.host, port: srv.port, requireTLS: true, auth: { user: account.user, pass: account.password } });
    await expect(
      plain.sendMail({ envelope: { from: 'ann@example.org', to: ['bo@example.net'] }, raw: message(['Subject: x', '', 'x']) }),
    ).rejects.toThrow(/certificate/i);
  });
});

describeWithAiosmtpd('tclmail against aiosmtpd', () => {
  let srv: AiosmtpdServer;
  const tokens: mime.Token[] = [];
  beforeAll(async () => {
    srv = await startAiosmtpd({ tls: true, auth: account });
  });
  afterAll(async () => {
    for (const tok of tokens.splice(0)) mime.finalize(tok, { subordinates: 'all' });
    await srv?.stop();
  });

  /** Connects, checks that AUTH waits for TLS, and upgrades with the test CA. */
  async function secureSession(): Promise<Session> {
    const session = await smtp.connect({ server: srv.host, port: srv.port });
    await session.ehlo();
    expect(session.hasExtension('STARTTLS')).toBe(true);
    expect(session.authMechanisms()).toEqual([]);
    await session.starttls({ ca: srv.ca });
    expect(session.secure).toBe(true);
    return session;
  }

  test.each(['PLAIN', 'LOGIN'] as const)('connect, starttls, login with %s, sendmail: recorded byte for byte', async (mechanism) => {
    const session = await secureSession();
    const before = srv.messages.length;
    const authsBefore = srv.auths.length;
    try {
      expect(session.authMechanisms()).toEqual(expect.arrayContaining(['PLAIN', 'LOGIN']));
      const reply = await session.login(account.user, account.password, { mechanism });
      expect(reply.code).toBe(235);
      const sent = message(['From: ann@example.org', 'To: bo@example.net', `Subject: tclmail ${mechanism}`, '', '.leading dot', 'Grüße']);
      expect(await session.sendmail('ann@example.org', ['bo@example.net'], sent)).toEqual([]);
    } finally {
      await session.quit();
    }
    const [auth] = (await srv.waitForAuths(authsBefore + 1)).slice(authsBefore);
    expect(auth).toEqual({ mechanism, login: account.user, ok: true, tls: true });
    const [got] = (await srv.waitForMessages(before + 1)).slice(before);
    expect(got.data.toString('utf8')).toBe(
      ['From: ann@example.org', 'To: bo@example.net', `Subject: tclmail ${mechanism}`, '', '.leading dot', 'Grüße', ''].join('\r\n'),
    );
    expect(got).toMatchObject({ mailFrom: 'ann@example.org', rcptTos: ['bo@example.net'], tls: true, user: account.user });
  });

  test.each(['PLAIN', 'LOGIN'] as const)('a wrong password with %s is an EAUTH error', async (mechanism) => {
    const session = await secureSession();
    const authsBefore = srv.auths.length;
    try {
      await expect(session.login(account.user, 'not the password', { mechanism })).rejects.toMatchObject({
        name: 'SmtpError',
        code: 'EAUTH',
        stage: 'auth',
        replyCode: 535,
      });
    } finally {
      await session.quit();
    }
    const [auth] = (await srv.waitForAuths(authsBefore + 1)).slice(authsBefore);
    expect(auth).toMatchObject({ mechanism, login: account.user, ok: false });
  });

  test('sendmessage with username and password authenticates after STARTTLS and delivers', async () => {
    const tok = mime.initialize({ canonical: 'text/plain', param: [['charset', 'us-ascii']], string: 'sent by sendmessage\n' });
    tokens.push(tok);
    mime.setheader(tok, 'From', 'ann@example.org');
    mime.setheader(tok, 'To', 'bo@example.net');
    mime.setheader(tok, 'Subject', 'sendmessage with AUTH');
    mime.setheader(tok, 'Date', 'Fri, 27 Nov 2026 09:00:00 +0000');
    mime.setheader(tok, 'Message-ID', '<sendmessage-auth@example.org>');
    const before = srv.messages.length;
    const refused = await smtp.sendmessage(tok, {
      servers: [srv.host],
      ports: [srv.port],
      tls: { ca: srv.ca },
      username: account.user,
      password: account.password,
    });
    expect(refused).toEqual([]);
    const [got] = (await srv.waitForMessages(before + 1)).slice(before);
    expect(got.data.equals(Buffer.from(mime.buildmessage(tok), 'latin1'))).toBe(true);
    expect(got).toMatchObject({ tls: true, user: account.user, mailFrom: 'ann@example.org', rcptTos: ['bo@example.net'] });
  });

  test('sendmessage with a wrong password fails with the AUTH stage recorded and sends nothing', async () => {
    const tok = mime.initialize({ canonical: 'text/plain', string: 'never sent\n' });
    tokens.push(tok);
    mime.setheader(tok, 'From', 'ann@example.org');
    mime.setheader(tok, 'To', 'bo@example.net');
    const before = srv.messages.length;
    const error = await smtp
      .sendmessage(tok, { servers: [srv.host], ports: [srv.port], tls: { ca: srv.ca }, username: account.user, password: 'wrong' })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(SmtpError);
    expect((error as SmtpError).attempts).toEqual([expect.objectContaining({ stage: 'auth', code: 535 })]);
    // The walk never goes on unauthenticated (Tcllib does): aiosmtpd would refuse MAIL anyway, and nothing arrived.
    expect(srv.messages).toHaveLength(before);
  });
});
