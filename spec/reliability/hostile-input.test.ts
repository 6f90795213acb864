/**
 * Hostile input (docs/security.md, A1, A2, A3): every field that reaches a command
 * line or a header is fuzzed with CR, LF, NUL, other controls and ready-made
 * injections (an extra RCPT, a Bcc header, a MIME part, an end of data).
 * Each value must end one of two ways:
 * - a typed error (OptionError, InvalidInputError, MimeError) thrown before
 *   any connection is made: the scripted server sees no connection;
 * - or a message sent with the value safely encoded: the server saw exactly
 *   the commands of one transaction and nothing aimed at evil.test, and the
 *   message (read by mailparser and line by line) has no header, parameter
 *   or part the caller did not ask for.
 */
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { InvalidInputError, MimeError, OptionError } from '../../lib/errors';
import * as mime from '../../mime';
import { sendmessage, type SendMessageOptions } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import type { Session } from '../../smtp/protocol/types';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';
import { testResolver } from './helpers';

const INJECTIONS = [
  '\r\n',
  '\n',
  '\r',
  '\0',
  '\x0b',
  '\x0c',
  '\x1b',
  '\x7f',
  '\t',
  '\u2028',
  '\u0085',
  '\r\nRCPT TO:<evil@evil.test>',
  '\r\nX-Injected: yes',
  '\nBcc: evil@evil.test',
  '\r\n\r\n--frontier\r\nContent-Type: text/html\r\n\r\n<b>evil</b>',
  '\r\n.\r\nMAIL FROM:<evil@evil.test>\r\n',
  '"; x-injected="yes',
  '\\',
  '>',
  '<evil@evil.test>',
];

const word = fc.string({ unit: fc.constantFrom(...'abcXYZ09 .-_@'.split('')), maxLength: 6 });
/** Some text with one injection somewhere in it. */
const hostile = fc.tuple(word, fc.constantFrom(...INJECTIONS), word).map(([a, injection, b]) => a + injection + b);
/** Address-shaped hostile text: bare, as a local part, inside a quoted local part, inside a display name. */
const hostileAddress = fc.oneof(
  hostile,
  hostile.map((h) => `${h}@good.test`),
  hostile.map((h) => `"${h}"@good.test`),
  hostile.map((h) => `Name ${h} <a@good.test>`),
);

const RUNS = 30;
const TYPED = [OptionError, InvalidInputError, MimeError];
const EHLO = ['250-fuzz.test', '250-PIPELINING', '250-8BITMIME', '250-SMTPUTF8', '250-DSN', '250-AUTH PLAIN', '250 ENHANCEDSTATUSCODES'];
const HEADER: Array<[string, string]> = [['From', 'a@x.org'], ['To', 'b@y.org'], ['Subject', 'fuzz']];
const VERBS = /^(EHLO |MAIL FROM:<|RCPT TO:<|DATA$|\.$|QUIT$|RSET$|AUTH PLAIN [A-Za-z0-9+/=]+$)/;
const ALLOWED_FIELDS = new Set([
  'mime-version', 'content-id', 'content-type', 'content-transfer-encoding', 'content-disposition',
  'from', 'to', 'cc', 'subject', 'date', 'message-id', 'sender', 'x-custom', 'reply-to',
]);

let srv: ScriptedServer;
const lookup = testResolver({});

beforeAll(async () => {
  srv = await scriptedServer({ ehlo: EHLO, on: { AUTH: '235 2.7.0 ok' } });
});

afterAll(async () => {
  await srv.close();
});

function isTyped(error: unknown): boolean {
  return TYPED.some((type) => error instanceof type);
}

/** The header field names of a message as written, each line checked to be a field or a fold. */
function fieldNames(data: Buffer): string[] {
  const text = data.toString('latin1');
  const header = text.slice(0, text.indexOf('\r\n\r\n'));
  const names: string[] = [];
  for (const line of header.split('\r\n')) {
    if (/^[ \t]/.test(line)) continue;
    const colon = line.indexOf(':');
    expect(colon).toBeGreaterThan(0);
    names.push(line.slice(0, colon).toLowerCase());
  }
  return names;
}

/** The command lines a client meant to send, from its debug transcript (secrets masked as the transcript masks them). */
function meant(debug: string[]): string[] {
  return debug.filter((l) => l.startsWith('C: ') && !l.startsWith('C: [message:')).map((l) => l.slice(3));
}

/** The lines a server received (it reads bytes as Latin-1; commands go out as UTF-8), credentials masked as in the transcript. */
function masked(lines: string[]): string[] {
  return lines.map((l) => Buffer.from(l, 'latin1').toString('utf8').replace(/^(AUTH [A-Z0-9-]+) .+$/, '$1 ****'));
}

/**
 * What one send may have produced: the server read exactly the command lines
 * the client meant to send (none split in two by a line break in a value), one
 * transaction, and a message whose every header line is a field it may have
 * and whose body is the one part the caller wrote.
 */
async function checkDelivery(connection: number, debug: string[], body: string, allowedField?: string): Promise<void> {
  await srv.closedConnection(connection);
  const lines = srv.transcript[connection];
  expect(masked(lines)).toEqual(meant(debug));
  for (const line of lines) expect(line).toMatch(VERBS);
  expect(lines.filter((l) => l.startsWith('MAIL'))).toHaveLength(1);
  expect(lines.filter((l) => l === 'DATA' || l === '.')).toEqual(['DATA', '.']);
  const messages = srv.received.filter((m) => m.connection === connection);
  expect(messages).toHaveLength(1);
  const data = messages[0].data;
  for (const name of fieldNames(data)) {
    if (name !== allowedField?.toLowerCase()) expect(ALLOWED_FIELDS).toContain(name);
  }
  const text = data.toString('latin1');
  expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(body);
  const parsed = await simpleParser(data);
  expect(parsed.headers.has('bcc')).toBe(false);
  expect(parsed.headers.has('x-injected')).toBe(false);
  const type = parsed.headers.get('content-type') as { value: string; params: Record<string, string> };
  expect(type.value).toBe('text/plain');
  expect(Object.keys(type.params).filter((p) => p !== 'name' && p !== 'charset')).toEqual([]);
}

/**
 * Runs one send; a typed error must come before any connection, anything
 * else must deliver cleanly. `allowedField` is a field name the case itself adds.
 */
async function sendOrRefuse(make: () => mime.Token, options: SendMessageOptions, allowedField?: string, body = 'fuzzed\r\n'): Promise<'sent' | 'refused'> {
  const before = srv.connections;
  const debug: string[] = [];
  let tok: mime.Token | undefined;
  try {
    tok = make();
    await sendmessage(tok, { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, debug: (line) => debug.push(line), ...options });
  } catch (error) {
    if (!isTyped(error)) throw error;
    expect(srv.connections).toBe(before);
    return 'refused';
  } finally {
    if (tok) mime.finalize(tok, { subordinates: 'all' });
  }
  expect(srv.connections).toBe(before + 1);
  await checkDelivery(before, debug, body, allowedField);
  return 'sent';
}

const plain = (): mime.Token => mime.initialize({ canonical: 'text/plain', string: 'fuzzed\r\n' });

async function fuzz<T>(arbitrary: fc.Arbitrary<T>, run: (value: T) => Promise<'sent' | 'refused'>): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = { sent: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      outcomes[await run(value)]++;
    }),
    { numRuns: RUNS },
  );
  return outcomes;
}

describe('sendmessage options: a typed error before connecting, or a clean message', () => {
  it.each([
    ['originator', (v: string): SendMessageOptions => ({ originator: v })],
    ['recipients (string)', (v: string): SendMessageOptions => ({ recipients: v })],
    ['recipients (array)', (v: string): SendMessageOptions => ({ recipients: ['b@y.org', v] })],
    ['header From', (v: string): SendMessageOptions => ({ header: [['From', v], ['To', 'b@y.org']] })],
    ['header To', (v: string): SendMessageOptions => ({ header: [['From', 'a@x.org'], ['To', v]] })],
    ['header Cc', (v: string): SendMessageOptions => ({ header: [...HEADER, ['Cc', v]] })],
    ['header Bcc', (v: string): SendMessageOptions => ({ header: [...HEADER, ['Bcc', v]] })],
    ['header Reply-To', (v: string): SendMessageOptions => ({ header: [...HEADER, ['Reply-To', v]] })],
  ])('%s', async (_field, options) => {
    const outcomes = await fuzz(hostileAddress, (v) => sendOrRefuse(plain, options(v)));
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  it.each([
    ['header Subject', (v: string): SendMessageOptions => ({ header: [['From', 'a@x.org'], ['To', 'b@y.org'], ['Subject', v]] })],
    ['header X-Custom', (v: string): SendMessageOptions => ({ header: [...HEADER, ['X-Custom', v]] })],
    ['client', (v: string): SendMessageOptions => ({ client: v })],
    ['username', (v: string): SendMessageOptions => ({ username: v, password: 'pw' })],
    ['password', (v: string): SendMessageOptions => ({ username: 'ann', password: v })],
    ['oauth2', (v: string): SendMessageOptions => ({ username: 'ann', oauth2: v })],
    ['envid (DSN)', (v: string): SendMessageOptions => ({ envid: v })],
    ['notify (DSN)', (v: string): SendMessageOptions => ({ notify: v })],
    ['orcpt (DSN)', (v: string): SendMessageOptions => ({ orcpt: { 'b@y.org': v } })],
  ])('%s', async (_field, options) => {
    await fuzz(hostile, (v) => sendOrRefuse(plain, options(v)));
  });

  it('a header name', async () => {
    await fuzz(hostile, async (key) => sendOrRefuse(plain, { header: [...HEADER, [key, 'value']] }, key));
  });

  it('ports given as text', async () => {
    await fuzz(hostile, async (h) => sendOrRefuse(plain, { ports: `${srv.port}${h}` }));
  });

  it('servers: refused, or (for a name with no control character) looked up but never reached', async () => {
    await fuzz(hostile, async (server) => {
      const before = srv.connections;
      const tok = plain();
      try {
        await sendmessage(tok, { servers: [server], ports: [srv.port], header: HEADER, lookup, maxsecs: 2 });
      } catch (error) {
        if (isTyped(error)) return 'refused';
        // The name passed the checks: the resolver was asked and knows nothing; no server was reached.
        expect((error as { code?: string }).code).toBe('EALLFAILED');
        return 'sent';
      } finally {
        mime.finalize(tok);
        expect(srv.connections).toBe(before);
      }
      throw new Error('a made-up server cannot have taken the message');
    });
    for (const name of lookup.asked) expect(name).not.toMatch(/[\r\n\0]/);
  });
});

describe('the part itself: setheader, initialize header and param', () => {
  it('setheader value', async () => {
    await fuzz(hostile, (v) => sendOrRefuse(() => {
      const tok = plain();
      try {
        mime.setheader(tok, 'X-Custom', v);
      } catch (error) {
        mime.finalize(tok);
        throw error;
      }
      return tok;
    }, {}));
  });

  it('setheader name', async () => {
    await fuzz(hostile, (key) => sendOrRefuse(() => {
      const tok = plain();
      try {
        mime.setheader(tok, key, 'value');
      } catch (error) {
        mime.finalize(tok);
        throw error;
      }
      return tok;
    }, {}, key));
  });

  it('initialize header value and name', async () => {
    await fuzz(hostile, (v) => sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', header: [['X-Custom', v]], string: 'x' }), {}, undefined, 'x\r\n'));
    await fuzz(hostile, (key) => sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', header: [[key, 'v']], string: 'x' }), {}, key, 'x\r\n'));
  });

  it('initialize param value (a file name) keeps exactly one parameter of that name and value', async () => {
    await fuzz(hostile, async (v) => {
      const outcome = await sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', param: [['name', v]], string: 'x' }), {}, undefined, 'x\r\n');
      if (outcome === 'sent') {
        const data = srv.received[srv.received.length - 1].data;
        const parsed = await simpleParser(data);
        const type = parsed.headers.get('content-type') as { params: Record<string, string> };
        expect(Object.keys(type.params).sort()).toEqual(['name']);
      }
      return outcome;
    });
  });

  it('initialize param name and canonical type', async () => {
    await fuzz(hostile, (key) => sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', param: [[key, 'v']], string: 'x' }), {}, undefined, 'x\r\n'));
    // Only text/plain passes checkDelivery; any other accepted type is a failure here, as an injection would be.
    await fuzz(hostile, (type) => sendOrRefuse(() => mime.initialize({ canonical: `text/plain${type}`, string: 'x' }), {}, undefined, 'x\r\n'));
  });

  it('a Content-Disposition file name written by the caller', async () => {
    await fuzz(hostile, (v) => sendOrRefuse(() => {
      const tok = plain();
      try {
        mime.setheader(tok, 'Content-Disposition', `attachment; filename="${v}"`);
      } catch (error) {
        mime.finalize(tok);
        throw error;
      }
      return tok;
    }, {}));
  });
});

describe('the session: nothing reaches the wire from a bad argument', () => {
  let session: Session;
  let debug: string[];
  beforeEach(async () => {
    debug = [];
    session = await connect({ server: '127.0.0.1', port: srv.port, debug: (line) => debug.push(line) });
    await session.ehlo();
  });
  afterEach(async () => {
    await session.quit();
  });

  /** A call with a hostile argument: a typed error with no line written, or exactly the lines the client meant. */
  async function oneCall(call: () => Promise<unknown>): Promise<'sent' | 'refused'> {
    const index = srv.connections - 1;
    const before = srv.transcript[index].length;
    const meantBefore = meant(debug).length;
    try {
      await call();
    } catch (error) {
      if (!isTyped(error)) throw error;
      // Nothing was written for the refused call, and the session carries on.
      expect((await session.noop()).code).toBe(250);
      expect(srv.transcript[index].slice(before)).toEqual(['NOOP']);
      return 'refused';
    }
    // A round trip, so the server has read everything the call wrote.
    await session.noop();
    expect(masked(srv.transcript[index].slice(before))).toEqual(meant(debug).slice(meantBefore));
    return 'sent';
  }

  it.each([
    ['sendmail from', (s: Session, v: string) => s.sendmail(v, ['b@y.org'], 'x\r\n')],
    ['sendmail to', (s: Session, v: string) => s.sendmail('a@x.org', [v], 'x\r\n')],
    ['MAIL parameter', (s: Session, v: string) => s.sendmail('a@x.org', ['b@y.org'], 'x\r\n', { mailParams: [v] })],
    ['RCPT parameter', (s: Session, v: string) => s.sendmail('a@x.org', ['b@y.org'], 'x\r\n', { rcptParams: [v] })],
    ['VRFY', (s: Session, v: string) => s.verify(v)],
    ['EXPN', (s: Session, v: string) => s.expand(v)],
    ['EHLO name', (s: Session, v: string) => s.ehlo(v)],
    ['login user', (s: Session, v: string) => s.login(v, 'pw', { mechanism: 'PLAIN' })],
  ])('%s', async (_what, call) => {
    await fuzz(hostile, (v) => oneCall(() => call(session, v)));
  });

  it('connect: client and server names are refused before connecting', async () => {
    await fuzz(hostile, async (v) => {
      const before = srv.connections;
      for (const options of [{ server: '127.0.0.1', port: srv.port, client: v }, { server: v, port: srv.port, lookup }]) {
        try {
          const s = await connect(options);
          s.close();
          // Only a name with nothing to break a line may connect (the client name is checked against RFC 5321).
          expect(options.client ?? options.server).not.toMatch(/[\r\n\0]/);
        } catch (error) {
          if (!isTyped(error)) expect((error as { code?: string }).code).toBe('ECONNECTION');
        }
      }
      expect(srv.connections - before).toBeLessThanOrEqual(1);
      return 'refused';
    });
  });
});

describe('known attacks, one by one', () => {
  it("tcllib's quoted local part with CRLF and commands is refused before connecting (A1)", async () => {
    const evil = '"x\r\nRCPT TO:<evil@x.org>\r\nNOOP "@b.org';
    expect(await sendOrRefuse(plain, { recipients: evil })).toBe('refused');
    expect(await sendOrRefuse(plain, { originator: evil })).toBe('refused');
  });

  it("tcllib's header value with a Bcc line, and a field name with a space, are refused (A2)", async () => {
    const tok = plain();
    try {
      expect(() => mime.setheader(tok, 'Subject', 'hi\r\nBcc: evil@x.org')).toThrow(InvalidInputError);
      expect(() => mime.setheader(tok, 'Bad Key', 'v')).toThrow(InvalidInputError);
      expect(mime.getheader(tok)).not.toHaveProperty('Subject');
    } finally {
      mime.finalize(tok);
    }
  });

  it("tcllib's -param with a quote and CRLF is refused; a quote alone is escaped, one parameter stays one (A2)", async () => {
    expect(await sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', param: [['name', 'a"; x="y\r\nX-Injected: 1']], string: 'x' }), {})).toBe('refused');
    expect(await sendOrRefuse(() => mime.initialize({ canonical: 'text/plain', param: [['name', 'a"; x="y']], string: 'x' }), {}, undefined, 'x\r\n')).toBe('sent');
    const parsed = await simpleParser(srv.received[srv.received.length - 1].data);
    expect((parsed.headers.get('content-type') as { params: Record<string, string> }).params).toEqual({ name: 'a"; x="y' });
  });

  it.each([
    ['"a@evil.test x"@good.test', 'a quoted local part holding another address'],
    ['"foo@x> ORCPT=rfc822;evil@evil.test"@good.test', 'an address that smuggles an ESMTP parameter'],
    ['alice@good.test(<bob@evil.test>', 'a comment that hides an address'],
    ['alice@good.test <bob@evil.test>', 'an address followed by another'],
  ])('%s (%s) is refused, or sent to good.test only (A3)', async (address) => {
    const outcome = await sendOrRefuse(plain, { recipients: address });
    if (outcome === 'sent') {
      const rcpt = srv.transcript[srv.connections - 1].filter((l) => l.startsWith('RCPT'));
      for (const line of rcpt) expect(line).toMatch(/@good\.test>$/);
    }
  });
});
