/**
 * sendmessage with STARTTLS, implicit TLS and AUTH (Tcllib's -usetls and
 * -username/-password, with tclmail's fixes in docs/differences-from-tcllib.md): certificates are verified, the policy is
 * asked on every TLS failure, and failed authentication never goes on
 * unauthenticated.
 */
import { type AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import * as mime from '../../mime';
import { sendmessage, type TlsFailure } from '../../smtp/sendmessage';
import { testCertificate } from '../support/certs';
import { failure, releaseToken, tracked } from '../support/fixtures';
import { scriptedServer } from '../support/scripted-server';

interface Delivery {
  secure: boolean;
  user: unknown;
  rcptTo: string[];
}

interface Recorder {
  port: number;
  deliveries: Delivery[];
  connections: number;
  close(): Promise<void>;
}

const track = tracked();

const USERS: Record<string, string> = { ann: 's3cret-Pa55' };

/** smtp-server with the test certificate, AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2, recording what it accepts. */
async function recorder(options: Partial<SMTPServerOptions> = {}): Promise<Recorder> {
  const { key, cert } = await testCertificate();
  const rec = { port: 0, deliveries: [] as Delivery[], connections: 0, close: async () => undefined };
  const server = new SMTPServer({
    logger: false,
    key,
    cert,
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    authOptional: true,
    onConnect(_session, callback) {
      rec.connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.method === 'XOAUTH2') {
        return auth.accessToken === 'ya29.token' && auth.username === 'ann'
          ? callback(null, { user: 'ann (oauth2)' })
          : callback(null, { data: { status: '401', schemes: 'bearer' } });
      }
      const expected = USERS[auth.username ?? ''];
      const ok = expected !== undefined && (auth.method === 'CRAM-MD5' ? auth.validatePassword(expected) : auth.password === expected);
      return ok ? callback(null, { user: auth.username }) : callback(new Error('bad credentials'));
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        rec.deliveries.push({ secure: session.secure, user: session.user, rcptTo: session.envelope.rcptTo.map((r) => r.address) });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  rec.port = (server.server.address() as AddressInfo).port;
  track.add(server, () => new Promise<void>((resolve) => server.close(() => resolve())));
  return rec;
}

const scripted = track.opener(scriptedServer);

function token(): mime.Token {
  return track.add(mime.initialize({ canonical: 'text/plain', string: 'Over TLS.\r\n' }), releaseToken);
}

const HEADER: Array<[string, string]> = [['From', 'ann@x.org'], ['To', 'bob@y.org']];

describe('sendmessage: STARTTLS', () => {
  it('upgrades with STARTTLS and verifies the certificate against the given CA', async () => {
    const srv = await recorder();
    const { ca } = await testCertificate();
    await expect(sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, tls: { ca } })).resolves.toEqual([]);
    expect(srv.deliveries).toEqual([expect.objectContaining({ secure: true })]);
  });

  it('refuses an untrusted certificate, asks no policy by default, and gives the server up (Tcllib accepted any certificate)', async () => {
    const srv = await recorder();
    const error = await failure(sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER }));
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'tls', code: null })]);
    expect(error.attempts[0].diagnostic).toMatch(/certificate/i);
    expect(srv.deliveries).toEqual([]);
  });

  it("asks the policy about a failed handshake too, and reconnects in plaintext when it says 'insecure'", async () => {
    const srv = await recorder();
    const calls: Array<[number, string, TlsFailure['stage']]> = [];
    const result = await sendmessage(token(), {
      servers: ['127.0.0.1'],
      ports: [srv.port],
      header: HEADER,
      tlspolicy: (code, diagnostic, failure) => {
        calls.push([code, diagnostic, failure.stage]);
        return 'insecure';
      },
    });
    expect(result).toEqual([]);
    expect(calls).toEqual([[400, expect.stringMatching(/certificate/i), 'tls']]);
    // The broken channel is never reused: a second connection carries the message in plaintext.
    expect(srv.connections).toBe(2);
    expect(srv.deliveries).toEqual([expect.objectContaining({ secure: false })]);
  });

  it('connects with implicit TLS (tlsimport, RFC 8314) and verifies it the same way', async () => {
    const srv = await recorder({ secure: true });
    const { ca } = await testCertificate();
    await expect(sendmessage(token(), '-servers', '127.0.0.1', '-ports', srv.port, '-tlsimport', 1, '-tls', { ca }, '-header', HEADER[0], '-header', HEADER[1])).resolves.toEqual([]);
    expect(srv.deliveries).toEqual([expect.objectContaining({ secure: true })]);
  });
});

describe('sendmessage: AUTH', () => {
  it('authenticates over STARTTLS and sends', async () => {
    const srv = await recorder();
    const { ca } = await testCertificate();
    await sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, tls: { ca }, username: 'ann', password: USERS.ann });
    expect(srv.deliveries).toEqual([expect.objectContaining({ secure: true, user: 'ann' })]);
  });

  it('uses XOAUTH2 with an oauth2 token', async () => {
    const srv = await recorder();
    const { ca } = await testCertificate();
    await sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, tls: { ca }, username: 'ann', oauth2: 'ya29.token' });
    expect(srv.deliveries).toEqual([expect.objectContaining({ user: 'ann (oauth2)' })]);
  });

  it('never sends unauthenticated after a refused login, and masks the secrets in the debug transcript', async () => {
    const srv = await recorder();
    const { ca } = await testCertificate();
    const transcript: string[] = [];
    const error = await failure(
      sendmessage(token(), {
        servers: ['127.0.0.1'],
        ports: [srv.port],
        header: HEADER,
        tls: { ca },
        username: 'ann',
        password: 'wrong-Pa55word',
        debug: (line) => transcript.push(line),
      }),
    );
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'auth', code: 535 })]);
    expect(srv.deliveries).toEqual([]);
    const all = transcript.join('\n');
    expect(all).toMatch(/Trying 127\.0\.0\.1/);
    expect(all).toMatch(/C: AUTH/);
    expect(all).not.toContain('wrong-Pa55word');
    expect(all).not.toContain(Buffer.from('\0ann\0wrong-Pa55word').toString('base64'));
    expect(all).not.toContain(Buffer.from('wrong-Pa55word').toString('base64'));
  });

  it('tries every offered mechanism, strongest first, then gives the server up and sends no MAIL', async () => {
    const refusing = await scripted({
      ehlo: ['250-scripted.test', '250-AUTH PLAIN LOGIN CRAM-MD5', '250 8BITMIME'],
      on: { AUTH: '535 5.7.8 authentication failed' },
    });
    const next = await scripted({ ehlo: ['250-scripted.test', '250 AUTH PLAIN'], on: { AUTH: '235 2.7.0 ok' } });
    await expect(
      sendmessage(token(), { servers: ['127.0.0.1', '127.0.0.1'], ports: [refusing.port, next.port], header: HEADER, username: 'ann', password: 'x' }),
    ).resolves.toEqual([]);
    await refusing.closedConnection(0);
    const lines = refusing.transcript[0];
    expect(lines.filter((l) => l.startsWith('AUTH')).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['AUTH CRAM-MD5', 'AUTH LOGIN', 'AUTH PLAIN']);
    expect(lines.some((l) => l.startsWith('MAIL'))).toBe(false);
    expect(next.messages).toHaveLength(1);
  });

  it('moves to the next server on AUTH 454 (temporary)', async () => {
    const busy = await scripted({ ehlo: ['250-scripted.test', '250 AUTH PLAIN'], on: { AUTH: '454 4.7.0 try again later' } });
    const error = await failure(sendmessage(token(), { servers: ['127.0.0.1'], ports: [busy.port], header: HEADER, username: 'ann', password: 'x' }));
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'auth', code: 454, enhanced: '4.7.0' })]);
  });

  it('gives up a server that offers AUTH with no mechanism tclmail speaks, saying what to do (no AUTH at all: spec/smtp/sendmessage-no-auth.test.ts)', async () => {
    const gssapi = await scripted({ ehlo: ['250-scripted.test', '250-AUTH GSSAPI', '250 8BITMIME'] });
    const error = await failure(sendmessage(token(), { servers: ['127.0.0.1'], ports: [gssapi.port], header: HEADER, username: 'ann', password: 'x' }));
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'auth', code: null })]);
    expect(error.message).toMatch(/no usable AUTH mechanism: 127\.0\.0\.1 offers GSSAPI and tclmail speaks CRAM-MD5, LOGIN, PLAIN \(and XOAUTH2 with oauth2\): ask the server's operator/);
    expect(gssapi.messages).toEqual([]);
  });
});
