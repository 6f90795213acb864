/**
 * TLS against an on-path attacker and a bad certificate (docs/security.md, A4, A5,
 * A6). The server is reached by a name that is not loopback, `mx.example.test`,
 * which a test resolver (the `lookup` hook) sends to 127.0.0.1: the client
 * must treat it as the remote host it claims to be. So:
 * - self-signed, expired, wrong-name and unknown-CA certificates are refused
 *   by default, for STARTTLS and for implicit TLS, and no MAIL follows;
 * - STARTTLS refused (454) or stripped from the EHLO reply never leads to
 *   AUTH in clear, not even when a policy chooses plaintext;
 * - bytes the server sends after its STARTTLS 220 and before the handshake
 *   are refused, whether they come in the same segment or just after.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { SmtpError } from '../../lib/errors';
import * as mime from '../../mime';
import { sendmessage, type SendMessageOptions } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import { testCertificate } from '../support/certs';
import { type Script, scriptedServer, type ScriptedServer } from '../support/scripted-server';
import { testResolver, thrown } from './helpers';

const NAME = 'mx.example.test';
const lookup = testResolver({ [NAME]: '127.0.0.1', 'mx2.example.test': '127.0.0.1' });
const HEADER: Array<[string, string]> = [['From', 'ann@x.org'], ['To', 'bob@y.org']];

interface Pem {
  key: string;
  cert: string;
  /** The CA to trust, when the certificate was signed by one. */
  ca?: string;
}

const subjectAltName = (hosts: string[]) => ({
  name: 'subjectAltName' as const,
  altNames: hosts.map((host) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host })),
});

/** A leaf for `hosts`, self-signed (no CA) or signed by a throw-away CA, valid between the two dates. */
async function certificate(hosts: string[], opts: { selfSigned?: boolean; notBefore?: Date; notAfter?: Date } = {}): Promise<Pem> {
  const notBeforeDate = opts.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfterDate = opts.notAfter ?? new Date(Date.now() + 24 * 3600_000);
  const leafExtensions = [{ name: 'basicConstraints' as const, cA: false }, { name: 'extKeyUsage' as const, serverAuth: true }, subjectAltName(hosts)];
  if (opts.selfSigned) {
    const leaf = await generate([{ name: 'commonName', value: hosts[0] }], { keyType: 'ec', algorithm: 'sha256', notBeforeDate, notAfterDate, extensions: leafExtensions });
    return { key: leaf.private, cert: leaf.cert };
  }
  const authority = await generate([{ name: 'commonName', value: 'tclmail reliability CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 10 * 24 * 3600_000),
    notAfterDate: new Date(Date.now() + 10 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints' as const, cA: true, critical: true },
      { name: 'keyUsage' as const, keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: hosts[0] }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: authority.private, cert: authority.cert },
    extensions: leafExtensions,
  });
  return { key: leaf.private, cert: leaf.cert, ca: authority.cert };
}

const servers: ScriptedServer[] = [];
const tokens: mime.Token[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const tok of tokens.splice(0)) mime.finalize(tok, { subordinates: 'all' });
});

async function server(script: Script): Promise<ScriptedServer> {
  const srv = await scriptedServer(script);
  servers.push(srv);
  return srv;
}

function token(): mime.Token {
  const tok = mime.initialize({ canonical: 'text/plain', string: 'secret plans\r\n' });
  tokens.push(tok);
  return tok;
}

function send(ports: number[], extra: Partial<SendMessageOptions> = {}): Promise<unknown> {
  const names = [NAME, 'mx2.example.test'].slice(0, ports.length);
  return sendmessage(token(), { servers: names, ports, header: HEADER, lookup, maxsecs: 10, ...extra });
}

const plainEhlo = (auth: boolean) => ['250-mx.example.test', ...(auth ? ['250-AUTH PLAIN LOGIN'] : []), '250 8BITMIME'];
const tlsEhlo = (auth: boolean) => ['250-mx.example.test', '250-STARTTLS', ...(auth ? ['250-AUTH PLAIN LOGIN'] : []), '250 8BITMIME'];

/** Lines of every connection of `srv` once they are closed. */
async function linesOf(srv: ScriptedServer): Promise<string[]> {
  await Promise.all(srv.conns.map((c) => srv.closedConnection(c.index)));
  return srv.transcript.flat();
}

describe('certificates are verified by default (A6)', () => {
  const bad: Array<[string, () => Promise<Pem>, RegExp]> = [
    ['a self-signed', () => certificate([NAME], { selfSigned: true }), /self[- ]signed/i],
    ['an expired', () => certificate([NAME], { notBefore: new Date(Date.now() - 3 * 24 * 3600_000), notAfter: new Date(Date.now() - 24 * 3600_000) }), /expired/i],
    ['a wrong-name', () => certificate(['other.example']), /altname|does not match|other\.example/i],
    ['an untrusted-CA', async () => ({ ...(await certificate([NAME])), ca: (await testCertificate()).ca }), /unable to (get|verify)|issuer/i],
  ];

  it.each(bad)('refuses %s certificate after STARTTLS: the server is given up, nothing is sent', async (_what, make, reason) => {
    const pem = await make();
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false) });
    const error = await thrown(send([srv.port], pem.ca ? { tls: { ca: pem.ca } } : {}));
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ server: NAME, stage: 'tls', code: null })]);
    expect(error.attempts[0].diagnostic).toMatch(reason);
    const lines = await linesOf(srv);
    expect(lines).toEqual(['EHLO localhost', 'STARTTLS']);
    expect(srv.conns[0].secure).toBe(false);
    expect(srv.received).toEqual([]);
  });

  it.each(bad)('refuses %s certificate with implicit TLS', async (_what, make, reason) => {
    const pem = await make();
    const srv = await server({ secure: true, tls: { key: pem.key, cert: pem.cert } });
    const error = await thrown(send([srv.port], { tlsimport: true, ...(pem.ca ? { tls: { ca: pem.ca } } : {}) }));
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'tls', code: null })]);
    expect(error.attempts[0].diagnostic).toMatch(reason);
    expect(srv.transcript.flat()).toEqual([]);
  });

  // The two most common ways into this: a relay with a self-signed certificate, and one signed by a private CA.
  const untrusted = bad.filter(([what]) => what === 'a self-signed' || what === 'an untrusted-CA');

  it.each(untrusted)('names the three ways out of %s certificate after STARTTLS: tls.ca (--ca), a tlspolicy, usetls false', async (_what, make) => {
    const pem = await make();
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false) });
    const error = await thrown(send([srv.port], pem.ca ? { tls: { ca: pem.ca } } : {}));
    expect(error.attempts[0].diagnostic).toMatch(/not signed by a CA this process trusts: trust the server's CA with tls: \{ ca \} \(tclmail send --ca FILE\), let a tlspolicy decide, or send without TLS \(usetls: false\)/);
  });

  it.each(untrusted)('names the ways out of %s certificate with implicit TLS: tls.ca (--ca), or no tlsimport', async (_what, make) => {
    const pem = await make();
    const srv = await server({ secure: true, tls: { key: pem.key, cert: pem.cert } });
    const error = await thrown(send([srv.port], { tlsimport: true, ...(pem.ca ? { tls: { ca: pem.ca } } : {}) }));
    expect(error.attempts[0].diagnostic).toMatch(/tls: \{ ca \} \(tclmail send --ca FILE\).*or connect without implicit TLS \(no tlsimport\)/);
  });

  it('gives no such advice for an expired or wrong-name certificate (trusting a CA would not help)', async () => {
    const pem = await certificate(['other.example']);
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false) });
    const error = await thrown(send([srv.port], { tls: { ca: pem.ca } }));
    expect(error.attempts[0].diagnostic).not.toMatch(/tlspolicy/);
  });

  it('says that a port answering in clear text does not speak TLS first, when implicit TLS meets a STARTTLS port', async () => {
    const srv = await server({ ehlo: tlsEhlo(false) });
    const error = await thrown(send([srv.port], { tlsimport: true }));
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'tls', code: null })]);
    expect(error.attempts[0].diagnostic).toMatch(/this port does not speak TLS first .*drop tlsimport/);
  });

  it('accepts the right name from a trusted CA, and sends that name as SNI (the control case)', async () => {
    const pem = await certificate([NAME]);
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false) });
    await expect(send([srv.port], { tls: { ca: pem.ca } })).resolves.toEqual([]);
    expect(srv.conns[0].servername).toBe(NAME);
    expect(srv.conns[0].secure).toBe(true);
    expect(srv.messages).toHaveLength(1);
    expect(lookup.asked).toContain(NAME);
  });

  it("checks the name the caller gives in tls.servername, never another one", async () => {
    // A caller who names another host gets that host checked: the name is never silently replaced by 'localhost'.
    const pem = await certificate([NAME]);
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false) });
    const error = await thrown(send([srv.port], { tls: { ca: pem.ca, servername: 'mail.elsewhere.test' } }));
    expect(error.attempts[0]).toMatchObject({ stage: 'tls' });
    expect(error.attempts[0].diagnostic).toMatch(/mail\.elsewhere\.test/);
  });
});

describe('no AUTH in clear after STARTTLS is refused or stripped (A4)', () => {
  const creds = { username: 'ann', password: 'hunter2-secret' };

  it('stripped: a server (or an attacker) that offers no STARTTLS gets no AUTH, and no MAIL either', async () => {
    const srv = await server({ ehlo: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    const error = await thrown(send([srv.port], creds));
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ server: NAME, stage: 'auth', code: null })]);
    expect(error.attempts[0].diagnostic).toMatch(/in clear/);
    const lines = await linesOf(srv);
    expect(lines.filter((l) => /^AUTH/i.test(l))).toEqual([]);
    expect(lines.filter((l) => /^MAIL/i.test(l))).toEqual([]);
  });

  it('refused with 454: the server is given up by default, and the next one gets no AUTH in clear either', async () => {
    const refusing = await server({ ehlo: tlsEhlo(true), on: { STARTTLS: '454 4.7.0 TLS not available', AUTH: '235 2.7.0 ok' } });
    const stripped = await server({ ehlo: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    const error = await thrown(send([refusing.port, stripped.port], creds));
    expect(error.attempts.map((a) => [a.stage, a.code])).toEqual([['starttls', 454], ['auth', null]]);
    for (const srv of [refusing, stripped]) expect((await linesOf(srv)).filter((l) => /^(AUTH|MAIL)/i.test(l))).toEqual([]);
  });

  it('refused with 454 and a policy that says "insecure": plaintext is allowed, credentials still are not', async () => {
    const srv = await server({ ehlo: tlsEhlo(true), on: { STARTTLS: '454 4.7.0 TLS not available', AUTH: '235 2.7.0 ok' } });
    const error = await thrown(send([srv.port], { ...creds, tlspolicy: () => 'insecure' }));
    expect(error.attempts.map((a) => [a.stage, a.code])).toEqual([['starttls', 454], ['auth', null]]);
    expect((await linesOf(srv)).filter((l) => /^AUTH/i.test(l))).toEqual([]);
  });

  it('the session refuses login() before writing anything', async () => {
    const srv = await server({ ehlo: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    const session = await connect({ server: NAME, port: srv.port, lookup });
    try {
      await session.ehlo();
      const error = await thrown(session.login('ann', 'hunter2-secret'));
      expect([error.code, error.stage]).toEqual(['EAUTH', 'auth']);
      expect(srv.transcript[0]).toEqual(['EHLO localhost']);
      expect((await session.noop()).code).toBe(250);
    } finally {
      session.close();
    }
  });

  it('sends AUTH in clear only when the caller opts in with insecureauth (the control case)', async () => {
    const srv = await server({ ehlo: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    await expect(send([srv.port], { ...creds, insecureauth: true })).resolves.toEqual([]);
    const lines = await linesOf(srv);
    expect(lines.some((l) => l.startsWith('AUTH '))).toBe(true);
    expect(srv.messages).toHaveLength(1);
  });

  it('allows AUTH in clear to a loopback name, which never leaves the machine', async () => {
    const srv = await server({ ehlo: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    await expect(sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, ...creds })).resolves.toEqual([]);
    expect((await linesOf(srv)).some((l) => l.startsWith('AUTH '))).toBe(true);
  });

  it('after a good STARTTLS, AUTH goes over TLS', async () => {
    const pem = await certificate([NAME]);
    const srv = await server({ tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(true), on: { AUTH: '235 2.7.0 ok' } });
    await expect(send([srv.port], { ...creds, tls: { ca: pem.ca } })).resolves.toEqual([]);
    const lines = await linesOf(srv);
    // AUTH was offered only after TLS, and it came after STARTTLS and the second EHLO.
    expect(lines.slice(0, 4).map((l) => l.split(' ')[0])).toEqual(['EHLO', 'STARTTLS', 'EHLO', 'AUTH']);
    expect(srv.conns[0].secure).toBe(true);
  });
});

describe('bytes before the TLS handshake (A5, NO STARTTLS)', () => {
  it.each([
    ['in the same segment as the 220', { reply: '220 2.0.0 go ahead', raw: '250-evil.example\r\n250 AUTH PLAIN\r\n', upgrade: true }],
    ['just after the 220', { reply: '220 2.0.0 go ahead', chunks: [5, '250-evil.example\r\n250 AUTH PLAIN\r\n'], upgrade: true }],
  ])('refuses a server that writes EHLO lines %s; no AUTH follows and the next server delivers', async (_when, starttls) => {
    const pem = await certificate([NAME, 'mx2.example.test']);
    const script: Script = { tls: { key: pem.key, cert: pem.cert }, ehlo: tlsEhlo(false), ehloAfterTls: plainEhlo(false), on: { AUTH: '235 2.7.0 ok' } };
    const evil = await server({ ...script, on: { ...script.on, STARTTLS: starttls } });
    const good = await server({ ...script, ehloAfterTls: plainEhlo(true) });
    await expect(send([evil.port, good.port], { tls: { ca: pem.ca }, username: 'ann', password: 'pw' })).resolves.toEqual([]);
    const lines = await linesOf(evil);
    expect(lines).toEqual(['EHLO localhost', 'STARTTLS']);
    expect(good.messages).toHaveLength(1);
    expect(good.conns[0].secure).toBe(true);
  });

  it('the session reports ETLS at stage tls and closes', async () => {
    const pem = await certificate([NAME]);
    const srv = await server({
      tls: { key: pem.key, cert: pem.cert },
      ehlo: tlsEhlo(true),
      on: { STARTTLS: { reply: '220 go', raw: '250 AUTH PLAIN\r\n', upgrade: true } },
    });
    const session = await connect({ server: NAME, port: srv.port, lookup });
    try {
      await session.ehlo();
      const error = await thrown(session.starttls({ ca: pem.ca }));
      expect(error).toBeInstanceOf(SmtpError);
      expect([error.code, error.stage]).toEqual(['ETLS', 'tls']);
      expect(session.state).toBe('closed');
    } finally {
      session.close();
    }
  });
});
