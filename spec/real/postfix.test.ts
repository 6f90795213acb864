/**
 * A real Postfix on 127.0.0.1 (spec/support/postfix.ts). The first block
 * proves the harness with independent clients (nodemailer, and raw bytes for
 * what nodemailer does not speak); the second sends through tclmail itself
 * and reads what Postfix wrote to the Maildir, byte for byte.
 */
import nodemailer from 'nodemailer';
import * as mime from '../../mime';
import * as smtp from '../../smtp';
import { SmtpError } from '../../lib/errors';
import { describeWithPostfix, type PostfixServer, startPostfix, splitTrace, asStored } from '../support/postfix';
import { RawClient } from './raw-client';

/** A message with CRLF line ends, as it goes on the wire. */
function message(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

/** The EHLO keywords (first word of each line after the first), uppercased. */
function keywords(lines: string[]): Map<string, string> {
  return new Map(lines.slice(1).map((line) => {
    const [word, ...rest] = line.split(' ');
    return [word.toUpperCase(), rest.join(' ')];
  }));
}

describeWithPostfix('Postfix harness, proved with independent clients', () => {
  let pf: PostfixServer;
  beforeAll(async () => {
    pf = await startPostfix();
  });
  afterAll(async () => {
    await pf?.stop();
  });

  function transport(extra: Record<string, unknown> = {}) {
    return nodemailer.createTransport({ host: pf.host, port: pf.port, requireTLS: true, tls: { ca: pf.ca }, ...extra });
  }

  test('listens on 127.0.0.1 and advertises PIPELINING, SIZE, STARTTLS, 8BITMIME, DSN, SMTPUTF8, CHUNKING', async () => {
    const { client, greeting } = await RawClient.connect(pf.port);
    expect(greeting.code).toBe(220);
    expect(greeting.lines[0]).toContain(pf.hostname);
    const ehlo = await client.command('EHLO client.example');
    await client.quit();
    expect(ehlo.code).toBe(250);
    const offered = keywords(ehlo.lines);
    for (const keyword of ['PIPELINING', 'STARTTLS', 'ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING']) {
      expect(offered.has(keyword)).toBe(true);
    }
    expect(offered.get('SIZE')).toBe(String(pf.messageSizeLimit));
  });

  test('delivers over STARTTLS verified against the test CA, byte for byte', async () => {
    const sent = message([
      'From: Sender <sender@example.org>',
      'To: Alice <alice@tclmail.test>',
      'Subject: harness check',
      'Date: Fri, 27 Nov 2026 09:00:00 +0000',
      'Message-ID: <harness-1@example.org>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'line one',
      '.a line that starts with a dot',
      '',
      'last line',
    ]);
    const before = (await pf.delivered('alice')).length;
    const info = await transport().sendMail({ envelope: { from: 'sender@example.org', to: ['alice@tclmail.test'] }, raw: sent });
    expect(info.accepted).toEqual(['alice@tclmail.test']);
    const files = await pf.waitForDelivery('alice', before + 1);
    const { trace, message: stored } = splitTrace(files[before]);
    expect(stored.equals(asStored(sent))).toBe(true);
    expect(trace).toMatch(/^Return-Path: <sender@example\.org>\n/);
    expect(trace).toContain('Delivered-To: alice@tclmail.test\n');
    // ESMTPS: Postfix records that the message came over TLS.
    expect(trace).toMatch(/with ESMTPS id/);
  });

  test('STARTTLS fails verification without the test CA', async () => {
    const plain = nodemailer.createTransport({ host: pf.host, port: pf.port, requireTLS: true });
    await expect(
      plain.sendMail({ envelope: { from: 'sender@example.org', to: ['alice@tclmail.test'] }, raw: message(['Subject: x', '', 'x']) }),
    ).rejects.toThrow(/certificate/i);
  });

  test('refuses an unknown user with 550 5.1.1 and delivers to the known one', async () => {
    const before = (await pf.delivered('bob')).length;
    const info = await transport().sendMail({
      envelope: { from: 'sender@example.org', to: ['nobody@tclmail.test', 'bob@tclmail.test'] },
      raw: message(['From: sender@example.org', 'To: bob@tclmail.test', 'Subject: mixed', '', 'hello']),
    });
    expect(info.accepted).toEqual(['bob@tclmail.test']);
    expect(info.rejected).toEqual(['nobody@tclmail.test']);
    const refusal = (info as unknown as { rejectedErrors: Array<{ responseCode: number; response: string }> }).rejectedErrors[0];
    expect(refusal.responseCode).toBe(550);
    expect(refusal.response).toMatch(/^550 5\.1\.1 <nobody@tclmail\.test>/);
    await pf.waitForDelivery('bob', before + 1);

    await expect(
      transport().sendMail({ envelope: { from: 'sender@example.org', to: ['nobody@tclmail.test'] }, raw: message(['Subject: x', '', 'x']) }),
    ).rejects.toMatchObject({ responseCode: 550 });
  });

  test('relays nothing: a recipient outside the test domain is refused', async () => {
    const { client } = await RawClient.connect(pf.port);
    await client.command('EHLO client.example');
    expect((await client.command('MAIL FROM:<sender@example.org>')).code).toBe(250);
    const rcpt = await client.command('RCPT TO:<someone@example.com>');
    await client.quit();
    expect(rcpt.code).toBe(554);
    expect(rcpt.lines[0]).toMatch(/^5\.7\.1 .*Relay access denied/);
  });

  test('refuses a message over message_size_limit and delivers nothing', async () => {
    const before = (await pf.delivered('carol')).length;
    const filler = ('x'.repeat(76) + '\r\n').repeat(Math.ceil(pf.messageSizeLimit / 78) + 10);
    const big = Buffer.concat([message(['From: sender@example.org', 'To: carol@tclmail.test', 'Subject: too big', '']), Buffer.from(filler)]);
    expect(big.length).toBeGreaterThan(pf.messageSizeLimit);
    await expect(
      transport().sendMail({ envelope: { from: 'sender@example.org', to: ['carol@tclmail.test'] }, raw: big }),
    ).rejects.toMatchObject({ responseCode: 552, response: expect.stringMatching(/^552 5\.3\.4 /) });
    await pf.waitForIdle();
    expect(await pf.delivered('carol')).toHaveLength(before);

    // A client that declares SIZE is refused at MAIL FROM, before any data.
    const { client } = await RawClient.connect(pf.port);
    await client.command('EHLO client.example');
    const mail = await client.command(`MAIL FROM:<sender@example.org> SIZE=${pf.messageSizeLimit + 1}`);
    await client.quit();
    expect(mail.code).toBe(552);
    expect(mail.lines[0]).toMatch(/^5\.3\.4 /);
  });

  test('SMTPUTF8: a non-ASCII mailbox needs the SMTPUTF8 parameter, and then gets the message', async () => {
    const { client } = await RawClient.connect(pf.port);
    await client.command('EHLO client.example');
    await client.command('MAIL FROM:<sender@example.org>');
    const without = await client.command('RCPT TO:<jösé@tclmail.test>');
    await client.quit();
    expect(without.code).toBe(553);
    expect(without.lines[0]).toMatch(/^5\.6\.7 /);

    const sent = message(['From: Sender <sender@example.org>', 'To: José <jösé@tclmail.test>', 'Subject: Grüße', '', 'Grüße, José']);
    const info = await transport().sendMail({ envelope: { from: 'sender@example.org', to: ['jösé@tclmail.test'] }, raw: sent });
    expect(info.accepted).toEqual(['jösé@tclmail.test']);
    const [file] = await pf.waitForDelivery('jösé', 1);
    expect(splitTrace(file).message.equals(asStored(sent))).toBe(true);
    expect(splitTrace(file).trace).toMatch(/with UTF8SMTPS id/);
  });

  test('DSN: NOTIFY=SUCCESS with ENVID makes Postfix report the delivery to the sender', async () => {
    const before = (await pf.delivered('bob')).length;
    await transport().sendMail({
      envelope: { from: 'bob@tclmail.test', to: ['alice@tclmail.test'] },
      dsn: { id: 'tclmail-env-7', return: 'headers', notify: 'success', recipient: 'alice@tclmail.test' },
      raw: message(['From: bob@tclmail.test', 'To: alice@tclmail.test', 'Subject: with a receipt', '', 'please confirm']),
    });
    const files = await pf.waitForDelivery('bob', before + 1);
    const report = files[before].toString('utf8');
    expect(report).toMatch(/Content-Type: multipart\/report; report-type=delivery-status;/);
    expect(report).toContain('Original-Envelope-Id: tclmail-env-7');
    expect(report).toMatch(/Original-Recipient: rfc822; ?alice@tclmail\.test/);
    expect(report).toContain('Action: delivered');
  });

  test('CHUNKING: BDAT carries a message with a leading dot and no stuffing, byte for byte', async () => {
    const sent = message(['From: sender@example.org', 'To: carol@tclmail.test', 'Subject: chunks', '', '.not stuffed', '..two dots', 'end']);
    const before = (await pf.delivered('carol')).length;
    const { client } = await RawClient.connect(pf.port);
    await client.command('EHLO client.example');
    await client.command('MAIL FROM:<sender@example.org>');
    expect((await client.command('RCPT TO:<carol@tclmail.test>')).code).toBe(250);
    const first = sent.subarray(0, 40);
    const rest = sent.subarray(40);
    client.write(Buffer.concat([Buffer.from(`BDAT ${first.length}\r\n`), first]));
    expect((await client.reply()).code).toBe(250);
    client.write(Buffer.concat([Buffer.from(`BDAT ${rest.length} LAST\r\n`), rest]));
    const last = await client.reply();
    await client.quit();
    expect(last.code).toBe(250);
    const files = await pf.waitForDelivery('carol', before + 1);
    expect(splitTrace(files[before]).message.equals(asStored(sent))).toBe(true);
  });

  test('PIPELINING: MAIL, RCPTs and DATA in one write get their replies in order', async () => {
    const { client } = await RawClient.connect(pf.port);
    await client.command('EHLO client.example');
    client.write('MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@tclmail.test>\r\nRCPT TO:<ghost@tclmail.test>\r\nDATA\r\n');
    const replies = [await client.reply(), await client.reply(), await client.reply(), await client.reply()];
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550, 354]);
    client.write('Subject: pipelined\r\n\r\nbody\r\n.\r\n');
    expect((await client.reply()).code).toBe(250);
    await client.quit();
  });
});

describeWithPostfix('tclmail against Postfix', () => {
  let pf: PostfixServer;
  const tokens: mime.Token[] = [];
  beforeAll(async () => {
    pf = await startPostfix();
  });
  afterAll(async () => {
    for (const tok of tokens.splice(0)) mime.finalize(tok, { subordinates: 'all' });
    await pf?.stop();
  });

  /** The octets of `buildmessage` (one character per octet, as in Tcl). */
  const octets = (tok: mime.Token) => Buffer.from(mime.buildmessage(tok), 'latin1');

  /** A text part with every header set on the part, so the transmitted bytes are `buildmessage` exactly. */
  function part(to: string, subject: string, body: string): mime.Token {
    const tok = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: body });
    tokens.push(tok);
    mime.setheader(tok, 'From', 'Sender <sender@example.org>');
    mime.setheader(tok, 'To', to);
    mime.setheader(tok, 'Subject', subject);
    mime.setheader(tok, 'Date', 'Fri, 27 Nov 2026 09:00:00 +0000');
    mime.setheader(tok, 'Message-ID', `<${subject.replace(/\W+/g, '-')}@example.org>`);
    return tok;
  }

  test('sendmessage over verified STARTTLS: the unknown user comes back refused, the Maildir file matches byte for byte', async () => {
    const tok = part('alice@tclmail.test, nobody@tclmail.test', 'tclmail to postfix', 'first line\n.leading dot\n\nlast line\n');
    const before = (await pf.delivered('alice')).length;
    const dialogue: string[] = [];
    const refused = await smtp.sendmessage(tok, {
      servers: ['127.0.0.1'],
      ports: [pf.port],
      atleastone: true,
      tls: { ca: pf.ca },
      debug: (line: string) => dialogue.push(line),
    });
    expect(refused).toEqual([
      ['nobody@tclmail.test', 550, '5.1.1 <nobody@tclmail.test>: Recipient address rejected: User unknown in virtual mailbox table'],
    ]);
    expect(dialogue).toContain('C: STARTTLS');
    const files = await pf.waitForDelivery('alice', before + 1);
    const { trace, message: stored } = splitTrace(files[before]);
    expect(stored.equals(asStored(octets(tok)))).toBe(true);
    expect(trace).toMatch(/^Return-Path: <sender@example\.org>\n/);
    expect(trace).toMatch(/with ESMTPS id/);
  });

  test('sendmessage with atleastone false: ERECIPIENTS, and Postfix delivers nothing at all', async () => {
    const tok = part('alice@tclmail.test, nobody@tclmail.test', 'all or nothing', 'not to be delivered\n');
    const before = (await pf.delivered('alice')).length;
    const dialogue: string[] = [];
    const error = await smtp.sendmessage(tok, { servers: ['127.0.0.1'], ports: [pf.port], tls: { ca: pf.ca }, chunking: false, debug: (line: string) => dialogue.push(line) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SmtpError);
    expect(error).toMatchObject({ code: 'ERECIPIENTS', rejected: [['nobody@tclmail.test', 550, expect.stringMatching(/^5\.1\.1 /)]] });
    // DATA (not BDAT: chunking is off) went with the RCPTs and Postfix took it for alice; the connection was
    // dropped before any end of data.
    expect(dialogue.filter((line) => /^S: 354/.test(line))).toHaveLength(1);
    expect(dialogue).not.toContain('C: .');
    // No message (not even an empty one) may reach alice.
    await pf.waitForIdle();
    expect(await pf.delivered('alice')).toHaveLength(before);
  });

  test.each([
    ['BDAT', true],
    ['DATA', false],
  ])('smtp.pool pipelines messages on one session (%s): each end of data goes with the next envelope, each message stored once', async (_name, chunking) => {
    const before = (await pf.delivered('bob')).length;
    const dialogue: string[] = [];
    const p = smtp.pool({ servers: ['127.0.0.1'], ports: [pf.port], tls: { ca: pf.ca }, chunking, maxConnections: 1, debug: (line: string) => dialogue.push(line) });
    const subjects = [0, 1, 2, 3, 4].map((n) => `pipelined ${String(chunking)} ${n}`);
    await Promise.all(subjects.map((subject) => p.sendmessage(part('bob@tclmail.test', subject, `${subject}\n`))));
    await p.close();
    const files = await pf.waitForDelivery('bob', before + 5);
    const stored = files.slice(before).map((file) => /^Subject: (.*)$/m.exec(splitTrace(file).message.toString('latin1'))![1]);
    expect(stored.sort()).toEqual([...subjects].sort());
    // Postfix read a MAIL written before it had answered the end of data that came with it: a MAIL line is
    // sent after an end of data (a dot, or BDAT ... LAST) and before that message's 250.
    const end = chunking ? (line: string) => /^C: BDAT \d+ LAST$/.test(line) : (line: string) => line === 'C: .';
    const pipelined = dialogue.some((line, i) => end(line) && dialogue[i + 1]?.startsWith('C: MAIL FROM:'));
    expect(pipelined).toBe(true);
  });

  test('sendmessage refuses STARTTLS to a certificate it cannot verify, and sends nothing', async () => {
    const tok = part('bob@tclmail.test', 'unverified', 'never sent\n');
    const before = (await pf.delivered('bob')).length;
    const error = await smtp.sendmessage(tok, { servers: ['127.0.0.1'], ports: [pf.port] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SmtpError);
    expect((error as SmtpError).attempts).toEqual([
      expect.objectContaining({ server: '127.0.0.1', port: pf.port, stage: 'tls', code: null }),
    ]);
    await pf.waitForIdle();
    expect(await pf.delivered('bob')).toHaveLength(before);
  });

  test('sendmessage refuses a message over the advertised SIZE before sending it', async () => {
    const tok = part('carol@tclmail.test', 'too big for postfix', ('y'.repeat(70) + '\n').repeat(Math.ceil(pf.messageSizeLimit / 71) + 10));
    const before = (await pf.delivered('carol')).length;
    const error = await smtp.sendmessage(tok, { servers: ['127.0.0.1'], ports: [pf.port], tls: { ca: pf.ca } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SmtpError);
    // Refused by tclmail itself at the MAIL stage: no reply code, because nothing was sent.
    expect((error as SmtpError).attempts).toEqual([
      expect.objectContaining({ stage: 'mail', code: null, diagnostic: expect.stringContaining(`larger than the ${pf.messageSizeLimit} octets`) }),
    ]);
    await pf.waitForIdle();
    expect(await pf.delivered('carol')).toHaveLength(before);
  });

  test('sendmessage to a non-ASCII mailbox uses SMTPUTF8 and arrives byte for byte', async () => {
    const tok = part('José <jösé@tclmail.test>', 'utf8 mailbox', 'Grüße aus Tcl\n');
    const before = (await pf.delivered('jösé')).length;
    expect(await smtp.sendmessage(tok, { servers: ['127.0.0.1'], ports: [pf.port], tls: { ca: pf.ca } })).toEqual([]);
    const files = await pf.waitForDelivery('jösé', before + 1);
    const { trace, message: stored } = splitTrace(files[before]);
    expect(stored.equals(asStored(octets(tok)))).toBe(true);
    expect(trace).toMatch(/with UTF8SMTPS id/);
  });

  test('smtp.connect reads the extensions Postfix offers, before and after STARTTLS', async () => {
    const session = await smtp.connect({ server: '127.0.0.1', port: pf.port });
    try {
      expect(session.greeting.code).toBe(220);
      const first = await session.ehlo();
      expect(first.domain).toBe(pf.hostname);
      for (const name of ['PIPELINING', 'STARTTLS', 'DSN', 'SMTPUTF8', 'CHUNKING', '8BITMIME', 'ENHANCEDSTATUSCODES']) {
        expect(session.hasExtension(name)).toBe(true);
      }
      expect(first.size).toBe(pf.messageSizeLimit);
      await session.starttls({ ca: pf.ca });
      expect(session.secure).toBe(true);
      expect(session.hasExtension('STARTTLS')).toBe(false);
      expect(session.hasExtension('CHUNKING')).toBe(true);
      const [code] = await session.verify('carol@tclmail.test');
      expect(code).toBe(252);
    } finally {
      await session.quit();
    }
  });
});
