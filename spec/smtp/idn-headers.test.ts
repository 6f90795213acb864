/**
 * A token whose header holds internationalized addresses, sent to a server
 * without SMTPUTF8: every header line is 7-bit (RFC 5322), the domains of the
 * address fields as A-labels, the same form as in the envelope, and the
 * caller's token is unchanged. A non-ASCII local part has no ASCII form and is
 * refused before MAIL. With SMTPUTF8 offered the header goes as written.
 */
import * as mime from '../../mime';
import { SmtpError } from '../../lib/errors';
import { connect } from '../../smtp/protocol/session';
import { sendmessage } from '../../smtp/sendmessage';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(smtputf8: boolean): Promise<ScriptedServer> {
  const ehlo = ['250-idn.test', '250-PIPELINING', '250-8BITMIME', ...(smtputf8 ? ['250-SMTPUTF8'] : []), '250 ENHANCEDSTATUSCODES'];
  const srv = await scriptedServer({ ehlo });
  servers.push(srv);
  return srv;
}

function token(): mime.Token {
  return mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'Grüße\r\n' });
}

/** The header block of a received message, as text. */
function headerOf(srv: ScriptedServer): string {
  const data = srv.received[0].data;
  return data.subarray(0, data.indexOf('\r\n\r\n')).toString('latin1');
}

describe('address fields to a server without SMTPUTF8', () => {
  it('are 7-bit with A-label domains, the display name encoded, the token untouched', async () => {
    const srv = await server(false);
    const tok = token();
    mime.setheader(tok, 'Reply-To', '"Müller, Hans" <hans@müller.example>, (note@ä.example) plain@ÄÖ.example');
    const refused = await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: srv.port,
      header: [['From', 'René <info@bücher.example>'], ['To', 'kontakt@müller.example'], ['Subject', 'Grüße']],
    });
    expect(refused).toEqual([]);
    const received = srv.received[0];
    expect(received.mailFrom).toBe('info@xn--bcher-kva.example');
    expect(received.rcptTo).toEqual(['kontakt@xn--mller-kva.example']);
    const header = headerOf(srv);
    expect(header).toMatch(/^[\x00-\x7f]*$/);
    expect(header).toMatch(/^From: =\?UTF-8\?Q\?Ren=C3=A9\?= <info@xn--bcher-kva\.example>$/m);
    expect(header).toMatch(/^To: kontakt@xn--mller-kva\.example$/m);
    expect(header.replace(/\r\n[ \t]/g, ' ')).toMatch(/^Reply-To: .* <hans@xn--mller-kva\.example>, \(=\?UTF-8\?B\?[^?]+\?=\) plain@xn--4ca0b\.example$/m);
    // Only the transmitted copy changes: the caller's field keeps its domains as given.
    expect(mime.getheader(tok, 'Reply-To')).toEqual(['"Müller, Hans" <hans@müller.example>, (note@ä.example) plain@ÄÖ.example']);
    mime.finalize(tok);
  });

  it('give up a server for a non-ASCII local part in a header before MAIL, as for the envelope, and try the next', async () => {
    const plain = await server(false);
    const tok = token();
    const options = { recipients: 'kontakt@example.org', header: [['From', 'info@example.org'], ['Cc', 'jörg@bücher.example']] as Array<[string, string]> };
    const error = await sendmessage(tok, { servers: '127.0.0.1', ports: plain.port, ...options }).catch((e: unknown) => e as SmtpError);
    expect(error).toBeInstanceOf(SmtpError);
    expect((error as SmtpError).code).toBe('EALLFAILED');
    expect((error as SmtpError).attempts).toEqual([
      expect.objectContaining({ stage: 'mail', diagnostic: expect.stringMatching(/header Cc: non-ASCII local part in "jörg@bücher\.example" needs a server that offers SMTPUTF8/) }),
    ]);
    expect(plain.received).toEqual([]);
    expect(plain.transcript[0].some((line) => /^(MAIL|RCPT|DATA)/.test(line))).toBe(false);

    const utf8 = await server(true);
    await sendmessage(tok, { servers: ['127.0.0.1', 'localhost'], ports: [plain.port, utf8.port], ...options });
    expect(utf8.received[0].data.toString('utf8')).toMatch(/^Cc: jörg@bücher\.example\r$/m);
    mime.finalize(tok);
  });

  it('go as written (UTF-8, RFC 6532) to a server that offers SMTPUTF8', async () => {
    const srv = await server(true);
    const tok = token();
    await sendmessage(tok, {
      servers: '127.0.0.1',
      ports: srv.port,
      header: [['From', 'René <info@bücher.example>'], ['To', 'kontakt@müller.example']],
    });
    expect(srv.received[0].mailParams).toContain('SMTPUTF8');
    const header = srv.received[0].data.toString('utf8');
    expect(header).toMatch(/^To: kontakt@müller\.example\r$/m);
    mime.finalize(tok);
  });
});

describe('createMessageStream with asciiHeaders', () => {
  it('writes a parsed 8-bit address field again with A-labels, and leaves an ASCII message byte for byte', async () => {
    const read = async (tok: mime.Token, asciiHeaders: boolean): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const chunk of mime.messageChunks(tok, { asciiHeaders })) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8');
    };
    const parsed = mime.initialize('-string', Buffer.from('From: Ann <ann@bücher.example>\r\nSubject: Grüße\r\n\r\nhi\r\n', 'utf8'));
    const seven = await read(parsed, true);
    expect(seven).toMatch(/^[\x00-\x7f]*$/);
    expect(seven).toContain('From: Ann <ann@xn--bcher-kva.example>\r\n');
    expect(mime.field_decode(/^Subject: (.*)$/m.exec(seven)![1].trim())).toBe('Grüße');
    expect(await read(parsed, false)).toBe('MIME-Version: 1.0\r\nFrom: Ann <ann@bücher.example>\r\nSubject: Grüße\r\n\r\nhi\r\n');
    const ascii = mime.initialize('-string', 'From: a@example.org\r\n\r\nhi\r\n');
    expect(await read(ascii, true)).toBe(await read(ascii, false));
    mime.finalize(parsed);
    mime.finalize(ascii);
  });
});

describe('session.data() with a token, to a server without SMTPUTF8', () => {
  it('sends the header 7-bit with A-label domains, and refuses a non-ASCII local part with EEXTENSION before DATA', async () => {
    const srv = await server(false);
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    await session.ehlo();
    const tok = token();
    mime.setheader(tok, 'From', 'René <info@bücher.example>');
    await session.mail('info@xn--bcher-kva.example');
    await session.rcpt('kontakt@example.org');
    expect((await session.data(tok)).code).toBe(250);
    const header = headerOf(srv);
    expect(header).toMatch(/^[\x00-\x7f]*$/);
    expect(header).toMatch(/^From: =\?UTF-8\?Q\?Ren=C3=A9\?= <info@xn--bcher-kva\.example>$/m);

    mime.setheader(tok, 'Cc', 'jörg@bücher.example');
    await session.mail('info@xn--bcher-kva.example');
    await session.rcpt('kontakt@example.org');
    const error = await session.data(tok).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpError);
    expect([(error as SmtpError).code, (error as SmtpError).stage]).toEqual(['EEXTENSION', 'data']);
    expect((error as SmtpError).message).toMatch(/non-ASCII local part in "jörg@bücher\.example".*does not offer it/);
    // Refused before DATA: one DATA on the wire, the first message's.
    expect(srv.transcript[0].filter((line) => /^DATA/.test(line))).toHaveLength(1);
    await session.quit();
    mime.finalize(tok);
  });
});
