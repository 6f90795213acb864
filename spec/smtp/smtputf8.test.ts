/**
 * Internationalized mail (RFC 6531, RFC 6532, RFC 5891): addresses with a
 * non-ASCII domain go out as A-labels to a server without SMTPUTF8; with
 * SMTPUTF8 offered, UTF-8 addresses and header fields go as they are and MAIL
 * says SMTPUTF8; a non-ASCII local part never reaches a server without it.
 * Against smtp-server (offering and withholding SMTPUTF8), the scripted
 * server (exact lines), and Postfix when it is installed.
 */
import type { LookupFunction } from 'node:net';
import { domainToASCII } from 'node:url';
import { SmtpError } from '../../lib/errors';
import { finalize, initialize } from '../../mime';
import { sendmessage } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import type { Session } from '../../smtp/protocol/types';
import { thrown } from '../support/fixtures';
import { describeWithPostfix, type PostfixServer, splitTrace } from '../support/postfix';
import type { RealServer } from '../support/real-server';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';
import { liveScope, usePostfix } from './live-support';

const JOERG = 'j\u00f6rg@b\u00fccher.example';
const ANN_IDN = 'ann@b\u00fccher.example';

/** The client's lines of a debug transcript. */
function wire(): { lines: string[]; debug: (line: string) => void } {
  const lines: string[] = [];
  return { lines, debug: (line) => line.startsWith('C: ') && lines.push(line.slice(3)) };
}

function message(): ReturnType<typeof initialize> {
  return initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'Gr\u00fc\u00dfe aus K\u00f6ln\r\n' });
}

describe('SMTPUTF8 and IDN with smtp-server', () => {
  let real: RealServer | undefined;
  const live = liveScope();

  it('sends UTF-8 addresses as they are with MAIL ... SMTPUTF8 when the server offers it', async () => {
    real = await live.realServer({ hideSTARTTLS: true });
    const tok = message();
    const { lines, debug } = wire();
    const refused = await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: real.port,
      originator: JOERG,
      recipients: '\u00fcn\u00ef@example.org',
      header: [['From', JOERG], ['To', '\u00fcn\u00ef@example.org'], ['Subject', 'Gr\u00fc\u00dfe']],
      debug,
    });
    finalize(tok);
    expect(refused).toEqual([]);
    expect(lines).toContain(`MAIL FROM:<${JOERG}> BODY=8BITMIME SMTPUTF8`);
    expect(lines).toContain('RCPT TO:<\u00fcn\u00ef@example.org>');
    expect(real.messages[0]).toMatchObject({ mailFrom: JOERG, rcptTo: ['\u00fcn\u00ef@example.org'] });
    expect(real.messages[0].mailArgs.SMTPUTF8).toBe(true);
  });

  it('writes a non-ASCII domain as A-labels, without SMTPUTF8, when the server withholds it', async () => {
    real = await live.realServer({ hideSMTPUTF8: true, hideSTARTTLS: true });
    const tok = message();
    const { lines, debug } = wire();
    await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: real.port,
      originator: ANN_IDN,
      recipients: 'bob@m\u00fcnchen.example',
      header: [['From', 'ann@example.org'], ['To', 'bob@example.org']],
      debug,
    });
    finalize(tok);
    // The Sender field (the originator) is written with A-labels too, so the message is 7-bit: no BODY parameter.
    expect(lines).toContain('MAIL FROM:<ann@xn--bcher-kva.example>');
    expect(lines).toContain('RCPT TO:<bob@xn--mnchen-3ya.example>');
    expect(real.messages[0].data.toString('latin1')).toMatch(/^Sender: ann@xn--bcher-kva\.example\r$/m);
    // smtp-server reads the A-labels back to the same Unicode domains.
    expect(real.messages[0]).toMatchObject({ mailFrom: ANN_IDN, rcptTo: ['bob@m\u00fcnchen.example'] });
    expect(real.messages[0].mailArgs.SMTPUTF8).toBeUndefined();
  });

  it('gives up a server without SMTPUTF8 for a non-ASCII local part before MAIL, never mangling it', async () => {
    real = await live.realServer({ hideSMTPUTF8: true, hideSTARTTLS: true });
    const tok = message();
    const { lines, debug } = wire();
    const error = await thrown(
      sendmessage(tok, { servers: '127.0.0.1', ports: real.port, originator: 'ann@example.org', recipients: JOERG, header: [['From', 'ann@example.org']], debug }),
    );
    finalize(tok);
    expect(error).toBeInstanceOf(SmtpError);
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts).toEqual([
      expect.objectContaining({ stage: 'mail', code: null, diagnostic: expect.stringMatching(/non-ASCII local part .*does not offer SMTPUTF8/) }),
    ]);
    expect(lines.some((line) => /^(MAIL|RCPT|DATA)/.test(line))).toBe(false);
    expect(real.messages).toHaveLength(0);
  });

  it('moves on to a server that offers SMTPUTF8 when the first does not', async () => {
    const plain = await scriptedServer({ ehlo: ['250-plain.test', '250-8BITMIME', '250 PIPELINING'] });
    real = await live.realServer({ hideSTARTTLS: true });
    const tok = message();
    try {
      const refused = await sendmessage(tok, {
        servers: ['127.0.0.1', 'localhost'],
        ports: [plain.port, real.port],
        originator: 'ann@example.org',
        recipients: JOERG,
        header: [['From', 'ann@example.org']],
      });
      expect(refused).toEqual([]);
      expect(plain.transcript[0].filter((line) => /^(MAIL|RCPT)/.test(line))).toEqual([]);
      expect(real.messages[0].rcptTo).toEqual([JOERG]);
    } finally {
      finalize(tok);
      await plain.close();
    }
  });
});

describe('SMTPUTF8 on the session, with exact lines (scripted server)', () => {
  let srv: ScriptedServer | undefined;
  let session: Session | undefined;
  const live = liveScope('quit');

  it('says SMTPUTF8 for a UTF-8 header field even when every address is ASCII', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250-8BITMIME', '250 SMTPUTF8'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', 'b@y.org', 'From: J\u00f6rg <a@x.org>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nhi\r\n');
    expect(srv.messages[0].mailParams).toEqual(['BODY=8BITMIME', 'SMTPUTF8']);
    expect(srv.messages[0].data.toString('utf8')).toContain('Subject: Gr\u00fc\u00dfe\r\n');
    // 8-bit octets only in the body need 8BITMIME, not SMTPUTF8.
    await session.sendmail('a@x.org', 'b@y.org', 'From: a@x.org\r\nSubject: plain\r\n\r\nGr\u00fc\u00dfe\r\n');
    expect(srv.messages[1].mailParams).toEqual(['BODY=8BITMIME']);
  });

  it('sends the EHLO name and the server name as A-labels', async () => {
    srv = await live.scriptedServer();
    const asked: string[] = [];
    const lookup = ((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
      asked.push(hostname);
      if ((options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    }) as unknown as LookupFunction;
    session = await live.connect({ server: 'b\u00fccher.example', port: srv.port, client: 'cl\u00efent.m\u00fcnchen.example', lookup });
    await session.ehlo();
    expect(asked).toEqual(['xn--bcher-kva.example']);
    expect(session.server).toBe('xn--bcher-kva.example');
    // Node's own IDNA (WHATWG URL) as the independent reference.
    expect(srv.transcript[0][0]).toBe(`EHLO ${domainToASCII('cl\u00efent.m\u00fcnchen.example')}`);
  });

  it('sendmessage takes a Unicode client name and sends its A-labels', async () => {
    srv = await live.scriptedServer();
    const tok = message();
    await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, client: 'b\u00fccher.example', header: [['From', 'a@x.org'], ['To', 'b@y.org']] });
    finalize(tok);
    expect(srv.transcript[0][0]).toBe('EHLO xn--bcher-kva.example');
  });

  it('keeps a non-ASCII local part and its domain as written when SMTPUTF8 is offered', async () => {
    srv = await live.scriptedServer({ ehlo: ['250-x', '250-8BITMIME', '250 SMTPUTF8'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail(JOERG, [ANN_IDN], 'Subject: x\r\n\r\nhi\r\n');
    expect(srv.messages[0].mailFrom).toBe(Buffer.from(JOERG, 'utf8').toString('latin1'));
    expect(srv.transcript[0]).toContain(`RCPT TO:<${Buffer.from(ANN_IDN, 'utf8').toString('latin1')}>`);
    expect(srv.messages[0].mailParams).toEqual(['SMTPUTF8']);
  });
});

describeWithPostfix('SMTPUTF8 with Postfix', () => {
  let pf: PostfixServer;
  usePostfix((server) => (pf = server));

  it('delivers to a mailbox with a non-ASCII local part, the UTF-8 header intact', async () => {
    const to = pf.address('j\u00f6s\u00e9');
    const session = await connect({ server: pf.host, port: pf.port });
    try {
      await session.ehlo();
      expect(session.hasExtension('SMTPUTF8')).toBe(true);
      const refused = await session.sendmail('ann@example.org', to, `From: ann@example.org\r\nTo: ${to}\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nhi\r\n`);
      expect(refused).toEqual([]);
    } finally {
      await session.quit();
    }
    const [file] = await pf.waitForDelivery('j\u00f6s\u00e9', 1);
    const { message: stored } = splitTrace(file);
    expect(stored.toString('utf8')).toContain(`To: ${to}\nSubject: Gr\u00fc\u00dfe\n`);
  });
});
