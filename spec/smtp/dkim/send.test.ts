/**
 * DKIM signing wired into sending: the signature covers the exact bytes the
 * server receives (after the 7-bit re-encoding a server without 8BITMIME
 * needs, with DATA or with BDAT), and the independent verifier (mailauth,
 * with a stub resolver) passes every message as the server stored it.
 */
import { Readable } from 'node:stream';
import { InvalidInputError, OptionError } from '../../../lib/errors';
import { finalize, initialize } from '../../../mime';
import { sendmessage } from '../../../smtp/sendmessage';
import { connect } from '../../../smtp/protocol/session';
import { describeWithPostfix, type PostfixServer } from '../../support/postfix';
import type { RealServer } from '../../support/real-server';
import { scriptedServer } from '../../support/scripted-server';
import { bdatServer } from '../protocol/bdat-server';
import { ed25519Key, rsaKey, type TestKey, verifyAll } from './support';
import { liveScope, usePostfix } from '../live-support';

let rsa: TestKey;
let ed: TestKey;
beforeAll(() => {
  rsa = rsaKey();
  ed = ed25519Key();
});

const HEADER: Array<[string, string]> = [['From', 'Ann <ann@example.org>'], ['To', 'bob@example.net'], ['Subject', 'Gr\u00fc\u00dfe,  signed']];

function message(): ReturnType<typeof initialize> {
  return initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], encoding: '8bit', string: 'Gr\u00fc\u00dfe aus K\u00f6ln\r\n.leading dot\r\ntrailing space   \r\n\r\n\r\n' });
}

describe('sendmessage with dkim', () => {
  let real: RealServer | undefined;
  const live = liveScope();

  it.each([
    ['rsa-sha256', () => rsa],
    ['ed25519-sha256', () => ed],
  ])('signs with %s what smtp-server receives, and it verifies', async (algorithm, key) => {
    real = await live.realServer({ hideSTARTTLS: true });
    const tok = message();
    await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, header: HEADER, dkim: { domain: 'example.org', selector: 'mail', privateKey: key().pem } });
    finalize(tok);
    const data = real.messages[0].data;
    expect(data.toString('latin1')).toMatch(/^DKIM-Signature: v=1; a=/);
    const verdicts = await verifyAll(data, { 'mail._domainkey.example.org': key().record });
    expect(verdicts).toEqual([expect.objectContaining({ result: 'pass', domain: 'example.org', algorithm })]);
  });

  it('signs the 7-bit re-encoding sent to a server without 8BITMIME', async () => {
    real = await live.realServer({ hideSTARTTLS: true, hide8BITMIME: true });
    const tok = message();
    await sendmessage(tok, { servers: '127.0.0.1', ports: real.port, header: HEADER, dkim: { domain: 'example.org', selector: 'mail', privateKey: ed.pem } });
    finalize(tok);
    const data = real.messages[0].data;
    expect(data.toString('latin1')).toMatch(/Content-Transfer-Encoding: (quoted-printable|base64)/i);
    expect((await verifyAll(data, { 'mail._domainkey.example.org': ed.record }))[0].result).toBe('pass');
  });

  it('signs a message sent with BDAT', async () => {
    const srv = await bdatServer();
    const tok = message();
    try {
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, dkim: { domain: 'example.org', selector: 'mail', privateKey: rsa.pem } });
      expect(srv.messages[0].via).toBe('BDAT');
      expect((await verifyAll(srv.messages[0].data, { 'mail._domainkey.example.org': rsa.record }))[0].result).toBe('pass');
    } finally {
      finalize(tok);
      await srv.close();
    }
  });

  it('declares a SIZE that counts the signature field', async () => {
    const srv = await scriptedServer({ ehlo: ['250-x', '250-8BITMIME', '250 SIZE 1000000'] });
    const tok = message();
    try {
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, dkim: { domain: 'example.org', selector: 'mail', privateKey: ed.pem } });
      const size = Number(/SIZE=(\d+)/.exec(srv.messages[0].mailParams.join(' '))![1]);
      expect(size).toBeGreaterThanOrEqual(srv.messages[0].data.length);
      expect(size - srv.messages[0].data.length).toBeLessThanOrEqual(2);
    } finally {
      finalize(tok);
      await srv.close();
    }
  });

  it('refuses a bad dkim option before any connection', async () => {
    const srv = await scriptedServer();
    const tok = message();
    try {
      await expect(sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header: HEADER, dkim: { domain: 'example.org', selector: 'mail', privateKey: 'nonsense' } })).rejects.toThrow(OptionError);
      expect(srv.connections).toBe(0);
    } finally {
      finalize(tok);
      await srv.close();
    }
  });
});

describe('session.sendmail with dkim', () => {
  it('refuses a one-shot stream, which cannot be read twice, before any byte', async () => {
    const srv = await scriptedServer();
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      await expect(
        session.sendmail('a@example.org', 'b@y.org', Readable.from([Buffer.from('From: a@example.org\r\n\r\nhi\r\n')]), {
          dkim: { domain: 'example.org', selector: 'mail', privateKey: ed.pem },
        }),
      ).rejects.toThrow(InvalidInputError);
    } finally {
      await session.quit();
      await srv.close();
    }
    expect(srv.transcript[0]).toEqual(['QUIT']);
  });

  it('signs a string message with bare line ends as the server reads it', async () => {
    const srv = await scriptedServer();
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      await session.sendmail('a@example.org', 'b@y.org', 'From: a@example.org\nSubject: bare\n\n.dot\nline   \n', {
        dkim: { domain: 'example.org', selector: 'mail', privateKey: ed.pem },
      });
    } finally {
      await session.quit();
      await srv.close();
    }
    expect((await verifyAll(srv.messages[0].data, { 'mail._domainkey.example.org': ed.record }))[0].result).toBe('pass');
  });
});

describeWithPostfix('DKIM through Postfix', () => {
  let pf: PostfixServer;
  usePostfix((server) => (pf = server));

  it('verifies the message as Postfix delivered it (trace fields on top)', async () => {
    const tok = message();
    try {
      await sendmessage(tok, {
        servers: pf.host,
        ports: pf.port,
        tls: { ca: pf.ca },
        header: [['From', 'ann@example.org'], ['To', pf.address('bob')], ['Subject', 'signed']],
        dkim: { domain: 'example.org', selector: 'mail', privateKey: rsa.pem },
      });
    } finally {
      finalize(tok);
    }
    const [file] = await pf.waitForDelivery('bob', 1);
    // Postfix stores LF line ends; the verifier reads the message as it travelled, with CRLF.
    const travelled = Buffer.from(file.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    expect((await verifyAll(travelled, { 'mail._domainkey.example.org': rsa.record }))[0].result).toBe('pass');
  });
});
