/**
 * sendmessage against a real SMTP server (npm smtp-server, in-process on
 * 127.0.0.1): the envelope it sends, the headers the server receives, Bcc
 * handling, recipients refused with and without atleastone, and the caller's
 * part left as it was.
 */
import { type AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { simpleParser } from 'mailparser';
import * as mime from '../../mime';
import { sendmessage } from '../../smtp/sendmessage';
import { SmtpError } from '../../lib/errors';
import { releaseToken, tracked } from '../support/fixtures';

interface Delivery {
  mailFrom: string;
  rcptTo: string[];
  bodyType: string | undefined;
  data: Buffer;
}

interface Recorder {
  port: number;
  deliveries: Delivery[];
  close(): Promise<void>;
}

const track = tracked();

/** A recording smtp-server without STARTTLS or AUTH; `refuse` maps a recipient to the 550 it gets. */
async function recorder(options: Partial<SMTPServerOptions> = {}, refuse: Record<string, string> = {}): Promise<Recorder> {
  const deliveries: Delivery[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    onRcptTo(address, _session, callback) {
      const why = refuse[address.address];
      if (why === undefined) return callback();
      const error = new Error(why) as Error & { responseCode: number };
      error.responseCode = 550;
      return callback(error);
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelope = session.envelope as typeof session.envelope & { bodyType?: string };
        deliveries.push({
          mailFrom: envelope.mailFrom ? envelope.mailFrom.address : '',
          rcptTo: envelope.rcptTo.map((r) => r.address),
          bodyType: envelope.bodyType,
          data: Buffer.concat(chunks),
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  const rec: Recorder = { port, deliveries, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  return track.add(rec);
}

function token(body = 'Hello there.\r\n', header: Array<[string, string]> = [], encoding?: string): mime.Token {
  return track.add(mime.initialize({ canonical: 'text/plain', string: body, header, ...(encoding ? { encoding } : {}) }), releaseToken);
}

const to = (srv: Recorder) => ({ servers: ['127.0.0.1'], ports: [srv.port] });

/** The header block of a received message, as lines. */
function headerLines(data: Buffer): string[] {
  const text = data.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}

describe('sendmessage with smtp-server', () => {
  it('sends the envelope its headers give and the headers it was given, with Date and Message-ID', async () => {
    const srv = await recorder();
    const result = await sendmessage(token(), {
      ...to(srv),
      header: [['From', 'Ann <ann@x.org>'], ['To', 'bob@y.org'], ['Cc', 'Cy <cy@y.org>'], ['Subject', 'Grüße aus Köln']],
    });
    expect(result).toEqual([]);
    expect(srv.deliveries).toHaveLength(1);
    const [d] = srv.deliveries;
    expect(d.mailFrom).toBe('ann@x.org');
    expect(d.rcptTo).toEqual(['bob@y.org', 'cy@y.org']);
    const parsed = await simpleParser(d.data);
    expect(parsed.subject).toBe('Grüße aus Köln');
    expect(parsed.from?.value).toEqual([{ address: 'ann@x.org', name: 'Ann' }]);
    expect(parsed.messageId).toMatch(/^<.+@.+>$/);
    expect(parsed.date).toBeInstanceOf(Date);
    expect(Math.abs(parsed.date!.getTime() - Date.now())).toBeLessThan(120_000);
    expect(parsed.text).toBe('Hello there.\n');
  });

  it('sends a message built with setheader as written, without any header option (Tcllib needed -header To)', async () => {
    const srv = await recorder();
    const tok = token();
    mime.setheader(tok, 'From', 'ann@x.org');
    mime.setheader(tok, 'To', 'bob@y.org, undisclosed-recipients:;');
    await expect(sendmessage(tok, to(srv))).resolves.toEqual([]);
    expect(srv.deliveries[0]).toMatchObject({ mailFrom: 'ann@x.org', rcptTo: ['bob@y.org'] });
  });

  it('delivers to Bcc and Dcc recipients in the same transaction and transmits neither field', async () => {
    const srv = await recorder();
    const tok = token();
    mime.setheader(tok, 'Bcc', 'part-bcc@z.org');
    await sendmessage(tok, { ...to(srv), header: [['From', 'ann@x.org'], ['To', 'bob@y.org'], ['Dcc', 'dcc@z.org'], ['Bcc', 'opt-bcc@z.org']] });
    expect(srv.deliveries).toHaveLength(1);
    expect(srv.deliveries[0].rcptTo).toEqual(['bob@y.org', 'dcc@z.org', 'part-bcc@z.org', 'opt-bcc@z.org']);
    const names = headerLines(srv.deliveries[0].data).map((l) => l.split(':')[0].toLowerCase());
    expect(names).not.toContain('bcc');
    expect(names).not.toContain('dcc');
    // Tcllib added an empty "Bcc:" when there was no To header option; the port never does.
    await sendmessage(token(), { ...to(srv), header: [['From', 'ann@x.org']], recipients: 'bob@y.org' });
    expect(headerLines(srv.deliveries[1].data).some((l) => /^bcc:/i.test(l))).toBe(false);
  });

  it("leaves the caller's part unchanged, so sending it twice gives the same message", async () => {
    const srv = await recorder();
    const tok = token('Twice.\r\n', [['Subject', 'Once']]);
    mime.setheader(tok, 'From', 'ann@x.org');
    mime.setheader(tok, 'To', 'bob@y.org');
    const before = mime.getheader(tok);
    const options = { ...to(srv), header: [['Subject', 'Extra'], ['X-Mailer', 'tclmail']] as Array<[string, string]> };
    await sendmessage(tok, options);
    await sendmessage(tok, options);
    expect(mime.getheader(tok)).toEqual(before);
    const [first, second] = srv.deliveries.map((d) => d.data.toString('latin1').replace(/^(Date|Message-ID): .*\r\n/gim, ''));
    expect(second).toBe(first);
    // Tcllib appends -header pairs: the part's Subject and the option's both go out, once each per send.
    expect(headerLines(srv.deliveries[1].data).filter((l) => /^subject:/i.test(l))).toEqual(['Subject: Once', 'Subject: Extra']);
  });

  it('reads the Tcl-style flat list exactly as the options object', async () => {
    const srv = await recorder();
    const tok = token();
    mime.setheader(tok, 'Date', 'Tue, 29 Feb 2000 21:57:00 +0000');
    mime.setheader(tok, 'Message-ID', '<fixed@x.org>');
    await sendmessage(tok, { ...to(srv), header: [['From', 'ann@x.org'], ['To', 'bob@y.org']], atleastone: true });
    await sendmessage(tok, '-servers', '127.0.0.1', '-ports', String(srv.port), '-header', ['From', 'ann@x.org'], '-header', ['To', 'bob@y.org'], '-atleastone', 'yes');
    const [a, b] = srv.deliveries;
    expect({ ...b, data: b.data.toString() }).toEqual({ ...a, data: a.data.toString() });
  });

  it("sends MAIL FROM:<> for originator '' and keeps the message's From", async () => {
    const srv = await recorder();
    await sendmessage(token(), { ...to(srv), originator: '', header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    expect(srv.deliveries[0].mailFrom).toBe('');
    expect(headerLines(srv.deliveries[0].data)).toContain('From: ann@x.org');
  });

  it('declares an 8-bit body with BODY=8BITMIME, and re-encodes it for a server without 8BITMIME', async () => {
    const body = 'Größe: 10 €\r\n';
    const eight = await recorder();
    await sendmessage(token(body, [], '8bit'), { ...to(eight), header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    expect(eight.deliveries[0].bodyType).toBe('8bitmime');
    expect(eight.deliveries[0].data.includes(Buffer.from('Größe'))).toBe(true);
    const seven = await recorder({ hide8BITMIME: true });
    await sendmessage(token(body, [], '8bit'), { ...to(seven), header: [['From', 'ann@x.org'], ['To', 'bob@y.org']] });
    const raw = seven.deliveries[0].data;
    expect(raw.some((byte) => byte > 0x7f)).toBe(false);
    expect((await simpleParser(raw)).text).toBe('Größe: 10 €\n');
  });
});

describe('sendmessage with smtp-server: refused recipients', () => {
  const refuse = { 'bad@y.org': 'no such user here' };
  const header: Array<[string, string]> = [['From', 'ann@x.org'], ['To', 'bob@y.org, bad@y.org']];

  it('with atleastone false, sends nothing and throws ERECIPIENTS with the refused triples', async () => {
    const srv = await recorder({}, refuse);
    let error: SmtpError | undefined;
    try {
      await sendmessage(token(), { ...to(srv), header });
    } catch (e) {
      error = e as SmtpError;
    }
    expect(error).toBeInstanceOf(SmtpError);
    expect(error!.code).toBe('ERECIPIENTS');
    expect(error!.rejected).toEqual([['bad@y.org', 550, 'no such user here']]);
    expect(error!.attempts).toEqual([expect.objectContaining({ stage: 'rcpt', code: 550, port: srv.port })]);
    expect(srv.deliveries).toEqual([]);
  });

  it('with atleastone true, delivers to the others and returns the refused triples', async () => {
    const srv = await recorder({}, refuse);
    await expect(sendmessage(token(), { ...to(srv), header, atleastone: true })).resolves.toEqual([['bad@y.org', 550, 'no such user here']]);
    expect(srv.deliveries.map((d) => d.rcptTo)).toEqual([['bob@y.org']]);
  });
});

describe("sendmessage with smtp-server: bcc 'digest'", () => {
  it("sends Tcllib's blind-copy digest in a second transaction, with one well-formed boundary and no Bcc field", async () => {
    const srv = await recorder();
    const result = await sendmessage(token('The original.\r\n'), {
      ...to(srv),
      bcc: 'digest',
      header: [['From', 'ann@x.org'], ['To', 'bob@y.org'], ['Bcc', 'hid@z.org'], ['Subject', 'Secret']],
    });
    expect(result).toEqual([]);
    expect(srv.deliveries.map((d) => [d.mailFrom, d.rcptTo])).toEqual([
      ['ann@x.org', ['bob@y.org']],
      ['ann@x.org', ['hid@z.org']],
    ]);
    const [main, copy] = srv.deliveries;
    expect(headerLines(main.data).some((l) => /^bcc:/i.test(l))).toBe(false);
    expect(headerLines(copy.data).some((l) => /^bcc:/i.test(l))).toBe(false);

    const digest = await simpleParser(copy.data);
    expect(digest.subject).toBe('[Bcc] Secret');
    expect(digest.headers.get('content-type')).toMatchObject({ value: 'multipart/digest' });
    expect(digest.headers.get('content-description')).toBe('Blind Carbon Copy');
    expect(digest.attachments).toHaveLength(1);
    expect(digest.attachments[0].contentType).toBe('message/rfc822');
    const inner = await simpleParser(digest.attachments[0].content);
    expect(inner.subject).toBe('Secret');
    expect(inner.text).toBe('The original.\n');
    expect(inner.headers.has('bcc')).toBe(false);
    // One boundary, declared once and used to open and close the only part.
    const boundary = /boundary="?([^";\r\n]+)"?/i.exec(copy.data.toString('latin1'))![1];
    const text = copy.data.toString('latin1');
    expect(text.split(`--${boundary}\r\n`)).toHaveLength(2);
    expect(text).toContain(`--${boundary}--`);
  });

  it('reports a refused blind copy in the result instead of swallowing it (Tcllib ignored it)', async () => {
    const srv = await recorder({}, { 'hid@z.org': 'blind mailbox full' });
    const result = await sendmessage(token(), {
      ...to(srv),
      bcc: 'digest',
      header: [['From', 'ann@x.org'], ['To', 'bob@y.org'], ['Bcc', 'hid@z.org']],
    });
    expect(result).toEqual([['hid@z.org', 550, 'blind mailbox full']]);
    expect(srv.deliveries.map((d) => d.rcptTo)).toEqual([['bob@y.org']]);
  });
});
