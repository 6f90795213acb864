/**
 * Implicit TLS (RFC 8314) by name, TLS required on the hop
 * (`starttls: 'required'`, the STARTTLS-stripping defence) and REQUIRETLS
 * (RFC 8689). When TLS is required and cannot be had, nothing is sent in clear
 * text, whatever a `tlspolicy` says, and the error says why. Against
 * smtp-server (STARTTLS, implicit TLS, REQUIRETLS offered or hidden) and the
 * scripted server (STARTTLS missing, refused, or with an untrusted certificate).
 */
import { OptionError } from '../../lib/errors';
import { finalize, initialize } from '../../mime';
import { planSend, sendmessage } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import { testCertificate } from '../support/certs';
import { thrown } from '../support/fixtures';
import type { RealServer } from '../support/real-server';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';
import { liveScope } from './live-support';

const HEADER: Array<[string, string]> = [['From', 'ann@example.org'], ['To', 'bob@example.net'], ['Subject', 'TLS']];

const sentInClear = (lines: string[]): string[] => lines.filter((line) => /^(MAIL|RCPT|DATA|BDAT|AUTH)/.test(line));

describe('starttls: required (scripted server)', () => {
  let srv: ScriptedServer | undefined;
  const live = liveScope();

  it('gives up a server that does not offer STARTTLS, sending nothing, whatever the policy says', async () => {
    srv = await live.scriptedServer();
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    let asked = 0;
    const error = await thrown(
      sendmessage(tok, {
        servers: '127.0.0.1',
        ports: srv.port,
        header: HEADER,
        starttls: 'required',
        username: 'ann',
        password: 'pw',
        tlspolicy: () => {
          asked++;
          return 'insecure';
        },
      }),
    );
    finalize(tok);
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'starttls', diagnostic: expect.stringMatching(/does not offer STARTTLS: nothing is sent in clear text/) })]);
    expect(asked).toBe(0);
    expect(sentInClear(srv.transcript.flat())).toEqual([]);
    expect(srv.connections).toBe(1);
  });

  it('gives up a server whose STARTTLS is refused (a stripping attacker answering 454)', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250-STARTTLS', '250 8BITMIME'], on: { STARTTLS: '454 4.7.0 TLS not available' } });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, starttls: 'required', tlspolicy: () => 'insecure' }));
    finalize(tok);
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'starttls', code: 454, diagnostic: expect.stringMatching(/^TLS is required and STARTTLS failed.*4\.7\.0 TLS not available$/) })]);
    expect(sentInClear(srv.transcript.flat())).toEqual([]);
    expect(srv.connections).toBe(1);
  });

  it('gives up a server whose certificate is not trusted, and does not come back in clear', async () => {
    srv = await live.scriptedServer({ tls: true });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, starttls: 'required', tlspolicy: () => 'insecure' }));
    finalize(tok);
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'tls' })]);
    expect(srv.connections).toBe(1);
    expect(sentInClear(srv.transcript.flat())).toEqual([]);
  });

  it('sends over STARTTLS when the certificate is trusted', async () => {
    srv = await live.scriptedServer({ tls: true });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, starttls: 'required', tls: { ca: srv.certificate!.ca } });
    finalize(tok);
    expect(srv.messages).toHaveLength(1);
    expect(srv.conns[0].secure).toBe(true);
  });

  it('sends nothing in clear on the session when requiretls is asked of a plain connection', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250 REQUIRETLS'] });
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'Subject: x\r\n\r\nhi\r\n', { requiretls: true }));
      expect(error).toMatchObject({ code: 'ETLS', stage: 'mail' });
      expect(error.message).toMatch(/not TLS/);
    } finally {
      await session.quit();
    }
    expect(sentInClear(srv.transcript[0])).toEqual([]);
  });
});

describe('implicit TLS by name', () => {
  it("uses port 465 for tls: 'implicit' and refuses requiretls without TLS", () => {
    const tok = initialize({ canonical: 'text/plain', string: 'x' });
    try {
      const plan = planSend(tok, [{ servers: 'mx.example.org', tls: 'implicit', header: HEADER }]);
      expect(plan.session.tlsimport).toBe(true);
      expect(plan.targets).toEqual([{ server: 'mx.example.org', port: 465 }]);
      expect(() => planSend(tok, [{ servers: 'mx.example.org', requiretls: true, starttls: 'never', header: HEADER }])).toThrow(OptionError);
      expect(() => planSend(tok, [{ servers: 'mx.example.org', tls: 'sometimes', header: HEADER }])).toThrow(OptionError);
      expect(planSend(tok, [{ servers: 'mx.example.org', requiretls: true, header: HEADER }]).session.starttls).toBe('required');
    } finally {
      finalize(tok);
    }
  });

  it("starts with a verified TLS handshake: tls: 'implicit' refuses an untrusted certificate", async () => {
    const srv = await scriptedServer({ secure: true });
    try {
      const error = await thrown(connect({ server: '127.0.0.1', port: srv.port, tls: 'implicit' }));
      expect(error).toMatchObject({ code: 'ETLS', stage: 'tls' });
      expect(srv.transcript.flat()).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});

describe('REQUIRETLS with smtp-server', () => {
  let real: RealServer | undefined;
  const live = liveScope();

  it('sends MAIL ... REQUIRETLS over implicit TLS when the server offers it', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ secure: true, key: cert.key, cert: cert.cert, hideREQUIRETLS: false });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    const lines: string[] = [];
    await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, tlsimport: true, tls: { ca: cert.ca }, requiretls: true, header: HEADER, debug: (l) => lines.push(l) });
    finalize(tok);
    expect(lines.find((l) => l.startsWith('C: MAIL'))).toMatch(/ REQUIRETLS$/);
    expect(real.messages[0]).toMatchObject({ secure: true, mailArgs: expect.objectContaining({ REQUIRETLS: true }) });
  });

  it('sends REQUIRETLS after STARTTLS, once the server offers it over TLS', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ key: cert.key, cert: cert.cert, hideREQUIRETLS: false });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, tls: { ca: cert.ca }, requiretls: true, header: HEADER });
    finalize(tok);
    expect(real.messages[0]).toMatchObject({ secure: true, mailArgs: expect.objectContaining({ REQUIRETLS: true }) });
  });

  it('gives up a TLS server that does not offer REQUIRETLS, before MAIL', async () => {
    const cert = await testCertificate();
    real = await live.realServer({ secure: true, key: cert.key, cert: cert.cert });
    const tok = initialize({ canonical: 'text/plain', string: 'secret\r\n' });
    const lines: string[] = [];
    const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: real.port, tlsimport: true, tls: { ca: cert.ca }, requiretls: true, header: HEADER, debug: (l) => lines.push(l) }));
    finalize(tok);
    expect(error.attempts).toEqual([expect.objectContaining({ stage: 'mail', code: null, diagnostic: expect.stringMatching(/does not offer REQUIRETLS/) })]);
    expect(lines.some((l) => /^C: (MAIL|RCPT|DATA)/.test(l))).toBe(false);
    expect(real.messages).toHaveLength(0);
  });
});
