/**
 * STARTTLS and implicit TLS, verified by default (docs/security.md, A4, A5, A6): the
 * certificate must chain to a trusted CA and name the server; bytes the server
 * sent before the handshake are refused; EHLO is sent again over TLS.
 */
import { SmtpError } from '../../../lib/errors';
import { connect } from '../../../smtp/protocol/session';
import type { Session } from '../../../smtp/protocol/types';
import { testCertificate } from '../../support/certs';
import { thrown } from '../../support/fixtures';
import type { RealServer } from '../../support/real-server';
import type { ScriptedServer } from '../../support/scripted-server';
import { liveScope } from '../live-support';

describe('STARTTLS with smtp-server (npm)', () => {
  let real: RealServer;
  let session: Session | undefined;
  const live = liveScope();

  async function tlsServer(): Promise<{ ca: string }> {
    const cert = await testCertificate();
    real = await live.realServer({ key: cert.key, cert: cert.cert });
    return { ca: cert.ca };
  }

  it('upgrades when the certificate chains to the given CA and names the server', async () => {
    const { ca } = await tlsServer();
    session = await live.connect({ server: 'localhost', port: real.port });
    await session.ehlo();
    expect(session.hasExtension('STARTTLS')).toBe(true);
    await session.starttls({ ca });
    expect(session.secure).toBe(true);
    // EHLO again over TLS: the server no longer offers STARTTLS.
    expect(session.hasExtension('STARTTLS')).toBe(false);
    await session.sendmail('a@x.org', 'b@y.org', 'Subject: tls\r\n\r\nover TLS\r\n');
    expect(real.messages[0].secure).toBe(true);
  });

  it('verifies an IP address against the certificate when the server is given as one', async () => {
    const { ca } = await tlsServer();
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    await session.starttls({ ca });
    expect(session.secure).toBe(true);
  });

  it("checks the IP address, not Node's 'localhost' fallback, when the certificate names only localhost (A6)", async () => {
    const cert = await testCertificate(['localhost']);
    real = await live.realServer({ key: cert.key, cert: cert.cert });
    session = await live.connect({ server: '127.0.0.1', port: real.port });
    const error = await thrown(session.starttls({ ca: cert.ca }));
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
    expect(error.message).toMatch(/127\.0\.0\.1/);
  });

  it('fails with ETLS stage tls without the CA, and closes the connection', async () => {
    await tlsServer();
    session = await live.connect({ server: 'localhost', port: real.port });
    const error = await thrown(session.starttls());
    expect(error).toBeInstanceOf(SmtpError);
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
    expect(error.message).toMatch(/certificate/);
    expect(session.state).toBe('closed');
    await expect(session.noop()).rejects.toMatchObject({ code: 'ECONNECTION' });
  });

  it('fails with ETLS when the certificate does not name the server (wrong servername)', async () => {
    const { ca } = await tlsServer();
    session = await live.connect({ server: 'localhost', port: real.port });
    const error = await thrown(session.starttls({ ca, servername: 'mail.example.org' }));
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
    expect(error.message).toMatch(/mail\.example\.org|altnames/);
  });

  it('connects with implicit TLS (tls: { ca })', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ secure: true, key: cert.key, cert: cert.cert });
    session = await live.connect({ server: 'localhost', port: real.port, tls: { ca: cert.ca } });
    expect(session.secure).toBe(true);
    expect(session.greeting.code).toBe(220);
    await session.sendmail('a@x.org', 'b@y.org', 'hi');
    expect(real.messages[0].secure).toBe(true);
  });

  it('refuses implicit TLS to an untrusted certificate with ETLS stage tls', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ secure: true, key: cert.key, cert: cert.cert });
    const error = await thrown(connect({ server: 'localhost', port: real.port, tls: true }));
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
  });
});

describe('STARTTLS with the scripted server', () => {
  let srv: ScriptedServer;
  let session: Session | undefined;
  const live = liveScope();

  it('sends SNI for a host name and EHLO again afterwards', async () => {
    srv = await live.scriptedServer({
      tls: true,
      ehlo: ['250-scripted.test', '250-STARTTLS', '250 8BITMIME'],
      ehloAfterTls: ['250-scripted.test', '250-AUTH PLAIN', '250 8BITMIME'],
    });
    session = await live.connect({ server: 'localhost', port: srv.port });
    await session.ehlo();
    expect(session.authMechanisms()).toEqual([]);
    await session.starttls({ ca: srv.certificate!.ca });
    expect(srv.conns[0].servername).toBe('localhost');
    expect(srv.transcript[0]).toEqual(['EHLO localhost', 'STARTTLS', 'EHLO localhost']);
    expect(session.authMechanisms()).toEqual(['PLAIN']);
  });

  it('a refused STARTTLS is ETLS stage starttls with the reply; the connection stays usable', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 STARTTLS'], on: { STARTTLS: '454 4.7.0 TLS not available' } });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.starttls());
    expect([error.code, error.stage, error.replyCode, error.enhanced]).toEqual(['ETLS', 'starttls', 454, '4.7.0']);
    expect(session.secure).toBe(false);
    expect((await session.noop()).code).toBe(250);
  });

  it('refuses bytes injected after the 220 and before the handshake (STARTTLS buffering, A5)', async () => {
    srv = await live.scriptedServer({
      tls: true,
      on: { STARTTLS: { reply: '220 2.0.0 go ahead', raw: '250-evil.example\r\n250 AUTH PLAIN\r\n', upgrade: true } },
    });
    session = await live.connect({ server: 'localhost', port: srv.port });
    await session.ehlo();
    const error = await thrown(session.starttls({ ca: srv.certificate!.ca }));
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
    expect(error.message).toMatch(/before the TLS handshake/);
    expect(session.state).toBe('closed');
    await srv.closedConnection(0);
    expect(srv.conns[0].secure).toBe(false);
  });

  it('a 220 followed by garbage instead of a handshake fails with ETLS and closes', async () => {
    srv = await live.scriptedServer({
      on: { STARTTLS: { reply: '220 go', chunks: [50, 'this is not TLS\r\n'] } },
    });
    session = await live.connect({ server: 'localhost', port: srv.port, maxsecs: 5 });
    const error = await thrown(session.starttls({ ca: (await testCertificate()).ca }));
    expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
    expect(session.state).toBe('closed');
  });

  it('refuses STARTTLS on a connection that is already TLS', async () => {
    srv = await live.scriptedServer({ secure: true });
    session = await live.connect({ server: 'localhost', port: srv.port, tls: { ca: srv.certificate!.ca } });
    expect(session.secure).toBe(true);
    expect(srv.conns[0].servername).toBe('localhost');
    await expect(session.starttls()).rejects.toMatchObject({ code: 'ETLS', stage: 'starttls' });
  });
});
