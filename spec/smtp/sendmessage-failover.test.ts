/**
 * The failover walk of sendmessage against scripted servers (the reply-by-stage
 * table of docs/smtp.md): which failures move on to the next
 * server, which stop the walk, what is returned or thrown, and which servers
 * were tried, in order.
 */
import * as mime from '../../mime';
import { sendmessage } from '../../smtp/sendmessage';
import { type Attempt, UncertainDeliveryError } from '../../lib/errors';
import { closedPort, failure, releaseToken, tracked } from '../support/fixtures';
import { scriptedServer, type Script } from '../support/scripted-server';

const track = tracked();
const server = track.opener(scriptedServer);

function message(): mime.Token {
  // 7bit keeps the leading dot as it is (the automatic choice would quote it), so the wire shows dot-stuffing.
  return track.add(mime.initialize({ canonical: 'text/plain', encoding: '7bit', string: 'Hello.\r\n.leading dot\r\n' }), releaseToken);
}

const HEADERS = ['-header', ['From', 'a@x.org'], '-header', ['To', 'b@y.org'], '-header', ['Cc', 'c@y.org'], '-header', ['Subject', 'Hi']];

function walk(ports: number[], ...more: unknown[]): Promise<unknown> {
  return sendmessage(message(), '-servers', ports.map(() => '127.0.0.1'), '-ports', ports, ...HEADERS, '-usetls', 0, ...more);
}

const stages = (attempts: Attempt[]): string[] => attempts.map((a) => `${a.port}:${a.stage}:${a.code ?? '-'}`);

describe('sendmessage: the dialogue', () => {
  it('sends EHLO, MAIL, RCPT for To then Cc, DATA, the dot-stuffed body and QUIT, and returns []', async () => {
    const srv = await server({ ehlo: ['250-scripted.test', '250-SIZE 100000', '250 8BITMIME'] });
    await expect(walk([srv.port])).resolves.toEqual([]);
    await srv.closedConnection(0);
    const lines = srv.transcript[0];
    expect(lines[0]).toMatch(/^EHLO /);
    expect(lines[1]).toMatch(/^MAIL FROM:<a@x\.org> SIZE=\d+$/);
    expect(lines.slice(2)).toEqual(['RCPT TO:<b@y.org>', 'RCPT TO:<c@y.org>', 'DATA', '.', 'QUIT']);
    const data = srv.messages[0].raw.toString('latin1');
    expect(data).toMatch(/^Date: .+\r\n/m);
    expect(data).toMatch(/^Message-ID: <.+>\r\n/m);
    expect(data).toContain('\r\n..leading dot\r\n');
    expect(data.endsWith('\r\n.\r\n')).toBe(true);
    // The declared SIZE is the size of what was sent (RFC 1870), counting the CRLF that ends
    // the last line when the message lacks one: it never under-states, and over-states by 2 at most.
    const declared = Number(/SIZE=(\d+)/.exec(lines[1])![1]);
    expect(declared - srv.messages[0].data.length).toBeGreaterThanOrEqual(0);
    expect(declared - srv.messages[0].data.length).toBeLessThanOrEqual(2);
  });
});

describe('sendmessage: failures that move on to the next server', () => {
  it('walks past a closed port, a 554 greeting and EHLO 500, and delivers with HELO', async () => {
    const dead = await closedPort();
    const refusing = await server({ greeting: '554 5.3.2 go away' });
    const old = await server({ ehlo: '500 5.5.1 what is EHLO', helo: '250 old.test' });
    await expect(walk([dead, refusing.port, old.port])).resolves.toEqual([]);
    expect(refusing.transcript[0]).toEqual([]); // no QUIT after a refused greeting
    await old.closedConnection(0);
    expect(old.transcript[0][0]).toMatch(/^EHLO /);
    expect(old.transcript[0][1]).toMatch(/^HELO /);
    expect(old.transcript[0][2]).toBe('MAIL FROM:<a@x.org>'); // no SIZE without EHLO
    expect(old.messages).toHaveLength(1);
  });

  it('throws EALLFAILED with every attempt in order when no server takes the message', async () => {
    const dead = await closedPort();
    const refusing = await server({ greeting: '554 5.3.2 go away' });
    const busy = await server({ ehlo: '421 4.3.2 too busy' });
    const error = await failure(walk([dead, refusing.port, busy.port]));
    expect(error.code).toBe('EALLFAILED');
    expect(stages(error.attempts)).toEqual([`${dead}:connect:-`, `${refusing.port}:greeting:554`, `${busy.port}:ehlo:421`]);
    expect(error.attempts[1]).toMatchObject({ server: '127.0.0.1', code: 554, enhanced: '5.3.2', diagnostic: '5.3.2 go away' });
    expect(error.message).toContain('5.3.2 go away');
    // 421 closes without HELO (RFC 5321 §3.8).
    expect(busy.transcript[0]).toHaveLength(1);
  });

  it.each([
    ['MAIL 451', { MAIL: '451 4.3.0 try later' }, 'mail', 451],
    ['DATA 451', { DATA: '451 4.3.0 try later' }, 'data', 451],
    ['the dot 451', { '.': '451 4.3.0 not now' }, 'dot', 451],
    ['a drop after RCPT', { DATA: { drop: true } }, 'data', null],
  ])('moves on after %s and delivers to the next server', async (_, on, stage, code) => {
    const first = await server({ on: on });
    const second = await server();
    await expect(walk([first.port, second.port])).resolves.toEqual([]);
    expect(first.messages).toHaveLength(0);
    expect(second.messages).toHaveLength(1);
    expect(second.messages[0].rcptTo).toEqual(['b@y.org', 'c@y.org']);
    if (stage !== 'dot' && code !== null) {
      // The abandoned transaction is reset before QUIT.
      await first.closedConnection(0);
      expect(first.transcript[0].slice(-2)).toEqual(['RSET', 'QUIT']);
    }
    // The stage is visible on the error when the second server also fails the same way.
    const again = await server({ on: on });
    const error = await failure(walk([again.port]));
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts.map((a) => [a.stage, a.code])).toEqual([[stage, code]]);
  });
});

describe('sendmessage: refusals that stop the walk', () => {
  it.each([
    ['MAIL 553', { MAIL: '553 5.7.1 sender rejected' }, 'mail', '553: 5.7.1 sender rejected'],
    ['DATA 554', { DATA: '554 5.3.0 no data for you' }, 'data', '554: 5.3.0 no data for you'],
    ['the dot 552', { '.': '552 5.3.4 message too big' }, 'dot', '552: 5.3.4 message too big'],
  ])('throws on %s with Tcllib 1.20 wording and leaves the next server alone', async (_, on, stage, text) => {
    const first = await server({ on: on });
    const second = await server();
    const error = await failure(walk([first.port, second.port]));
    expect(error.code).toBe('ESMTP');
    expect(error.stage).toBe(stage);
    expect(error.message).toBe(text);
    expect(error.replyCode).toBe(Number(text.slice(0, 3)));
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts[0]).toMatchObject({ port: first.port, stage });
    expect(second.connections).toBe(0);
    await first.closedConnection(0);
    expect(first.transcript[0][first.transcript[0].length - 1]).toBe('QUIT');
  });
});

describe('sendmessage: recipients', () => {
  const partial = { on: { 'RCPT TO:<c@y.org>': '550 5.1.1 no such user' } };

  it('with atleastone false, sends nothing when one recipient is refused and throws the list', async () => {
    const srv = await server(partial);
    const error = await failure(walk([srv.port]));
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.rejected).toEqual([['c@y.org', 550, '5.1.1 no such user']]);
    expect(srv.messages).toHaveLength(0);
    await srv.closedConnection(0);
    // DATA went with the RCPTs and was taken (b@y.org was accepted): the connection is dropped before any end of
    // data, since a lone dot would deliver an empty message to b@y.org.
    expect(srv.transcript[0].slice(1)).toEqual(['MAIL FROM:<a@x.org>', 'RCPT TO:<b@y.org>', 'RCPT TO:<c@y.org>', 'DATA']);
    expect(srv.received).toHaveLength(0);
  });

  it('with atleastone true, sends to the others and returns the refused triples', async () => {
    const srv = await server(partial);
    await expect(walk([srv.port], '-atleastone', 1)).resolves.toEqual([['c@y.org', 550, '5.1.1 no such user']]);
    expect(srv.messages[0].rcptTo).toEqual(['b@y.org']);
  });

  it('throws when every recipient is refused, without trying another server', async () => {
    const srv = await server({ on: { RCPT: '550 5.1.1 no such user' } });
    const other = await server();
    const error = await failure(walk([srv.port, other.port], '-atleastone', 1));
    expect(error.code).toBe('ERECIPIENTS');
    expect(error.rejected.map(([a]) => a)).toEqual(['b@y.org', 'c@y.org']);
    expect(other.connections).toBe(0);
  });

  it('sends recipients deferred with 452 in a new transaction on the same connection (RFC 5321 §4.5.3.1.10)', async () => {
    const srv = await server({
      on: {
        RCPT: (line, conn) => {
          const seen = (conn.state.rcpts as number | undefined) ?? 0;
          conn.state.rcpts = seen + 1;
          return seen === 1 ? '452 4.5.3 too many recipients' : undefined;
        },
      },
    });
    await expect(walk([srv.port], '-atleastone', 1)).resolves.toEqual([]);
    expect(srv.messages.map((m) => m.rcptTo)).toEqual([['b@y.org'], ['c@y.org']]);
    expect(srv.connections).toBe(1);
  });
});

describe('sendmessage: the end of data (docs/security.md, A14)', () => {
  it('throws an uncertain outcome when the dot reply is late past maxsecs, and tries no other server', async () => {
    const slow = await server({ on: { '.': { reply: '250 2.0.0 queued at last', delayMs: 3000 } } });
    const second = await server();
    const error = await failure(walk([slow.port, second.port], '-maxsecs', 1));
    expect(error).toBeInstanceOf(UncertainDeliveryError);
    expect(error.code).toBe('EUNCERTAIN');
    expect(error.message).toMatch(/may have been delivered/);
    expect(error.attempts).toEqual([expect.objectContaining({ port: slow.port, stage: 'dot', code: null })]);
    expect(second.connections).toBe(0);
  });

  it('throws an uncertain outcome when the connection drops after the dot', async () => {
    const dropping = await server({ on: { '.': { drop: true } } });
    const second = await server();
    const error = await failure(walk([dropping.port, second.port]));
    expect(error.code).toBe('EUNCERTAIN');
    expect(dropping.received).toHaveLength(1);
    expect(second.connections).toBe(0);
  });
});

describe('sendmessage: STARTTLS refused', () => {
  const refusing: Script = { ehlo: ['250-scripted.test', '250 STARTTLS'], on: { STARTTLS: '454 4.7.0 TLS not available' } };

  it('gives the server up by default (no silent plaintext) and delivers to the next one', async () => {
    const first = await server(refusing);
    const second = await server();
    await expect(sendmessage(message(), '-servers', ['127.0.0.1', '127.0.0.1'], '-ports', [first.port, second.port], ...HEADERS)).resolves.toEqual([]);
    await first.closedConnection(0);
    expect(first.transcript[0]).not.toContainEqual(expect.stringMatching(/^MAIL/));
    expect(second.messages).toHaveLength(1);
  });

  it("asks the policy with Tcllib's arguments and goes on in plaintext when it says insecure", async () => {
    const srv = await server(refusing);
    const calls: unknown[][] = [];
    const policy = (code: number, diagnostic: string) => {
      calls.push([code, diagnostic]);
      return 'insecure';
    };
    await expect(sendmessage(message(), '-servers', '127.0.0.1', '-ports', srv.port, ...HEADERS, '-tlspolicy', policy)).resolves.toEqual([]);
    expect(calls).toEqual([[454, '4.7.0 TLS not available']]);
    expect(srv.messages).toHaveLength(1);
    expect(srv.connections).toBe(1);
  });

  it("moves to the next server when the policy says secure, and records the refusal", async () => {
    const first = await server(refusing);
    const second = await server(refusing);
    const error = await failure(
      sendmessage(message(), '-servers', ['127.0.0.1', '127.0.0.1'], '-ports', [first.port, second.port], ...HEADERS, '-tlspolicy', () => 'secure'),
    );
    expect(error.code).toBe('EALLFAILED');
    expect(error.attempts.map((a) => [a.port, a.stage, a.code])).toEqual([
      [first.port, 'starttls', 454],
      [second.port, 'starttls', 454],
    ]);
  });

  it('keeps to plaintext, as Tcllib does, when STARTTLS is not offered at all', async () => {
    const srv = await server({ ehlo: ['250-scripted.test', '250 8BITMIME'] });
    await expect(sendmessage(message(), '-servers', '127.0.0.1', '-ports', srv.port, ...HEADERS)).resolves.toEqual([]);
    expect(srv.transcript[0]).not.toContain('STARTTLS');
  });
});

describe('sendmessage: other Tcllib behaviour', () => {
  it('accepts -queue and sends no non-standard QUED or ONEX', async () => {
    const srv = await server({ ehlo: ['250-scripted.test', '250-ONEX', '250 XQUE'] });
    await expect(walk([srv.port], '-queue', 1)).resolves.toEqual([]);
    await srv.closedConnection(0);
    expect(srv.transcript[0].filter((l) => /^(QUED|ONEX)/.test(l))).toEqual([]);
  });

  it('pairs ports with servers and repeats the last port for the rest (Tcllib used 25)', async () => {
    const srv = await server({ connection: (i) => (i === 0 ? { greeting: '554 5.3.2 not you' } : undefined) });
    await expect(sendmessage(message(), '-servers', ['127.0.0.1', '127.0.0.1'], '-ports', [srv.port], ...HEADERS)).resolves.toEqual([]);
    expect(srv.connections).toBe(2);
    expect(srv.messages.map((m) => m.connection)).toEqual([1]);
  });

  it('moves on when the message is larger than the SIZE a server declares, before sending MAIL', async () => {
    const small = await server({ ehlo: ['250-scripted.test', '250 SIZE 10'] });
    const large = await server({ ehlo: ['250-scripted.test', '250 SIZE 1000000'] });
    await expect(walk([small.port, large.port])).resolves.toEqual([]);
    await small.closedConnection(0);
    expect(small.transcript[0].filter((l) => l.startsWith('MAIL'))).toEqual([]);
    expect(large.messages).toHaveLength(1);
  });

  it('validates every option before connecting', async () => {
    const srv = await server();
    const cases: unknown[][] = [
      ['-bogus', 1],
      ['-servers'],
      ['-atleastone', 'maybe'],
      ['-header', ['Content-Type', 'text/html']],
      ['-header', ['Subject', 'a\r\nBcc: evil@x.org']],
      ['-recipients', 'ok@x.org\r\nRCPT TO:<evil@x.org>'],
      ['-client', 'me\r\nMAIL FROM:<evil@x.org>'],
      ['-servers', []],
      ['-maxsecs', 0],
      ['-bcc', 'sometimes'],
    ];
    for (const extra of cases) {
      await expect(sendmessage(message(), '-servers', '127.0.0.1', '-ports', srv.port, ...HEADERS, ...extra)).rejects.toBeInstanceOf(TypeError);
    }
    expect(srv.connections).toBe(0);
  });
});

describe('sendmessage: round trips with and without PIPELINING (20 recipients)', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => `r${i}@y.org`).join(',');

  async function turns(ehlo: string[], atleastone: boolean): Promise<{ total: number; transaction: number }> {
    const srv = await server({ ehlo });
    await sendmessage(message(), '-servers', '127.0.0.1', '-ports', srv.port, '-header', ['From', 'a@x.org'], '-recipients', twenty, '-atleastone', atleastone);
    await srv.closedConnection(0);
    const batches = srv.conns[0].batches;
    const fromMail = batches.findIndex((b) => b[0].startsWith('MAIL'));
    const toDot = batches.findIndex((b) => b.includes('.'));
    return { total: batches.length, transaction: toDot - fromMail + 1 };
  }

  it('needs 2 client turns for the transaction with PIPELINING, and 23 without', async () => {
    const piped = await turns(['250-scripted.test', '250-PIPELINING', '250 8BITMIME'], true);
    const pipedStrict = await turns(['250-scripted.test', '250-PIPELINING', '250 8BITMIME'], false);
    const plain = await turns(['250-scripted.test', '250 8BITMIME'], false);
    // atleastone: MAIL + 20 RCPT + DATA in one write, then the body and its dot.
    expect(piped.transaction).toBe(2);
    // Without atleastone too: sendmessage's session is its own, so a refusal can cancel by dropping it.
    expect(pipedStrict.transaction).toBe(2);
    // Without PIPELINING each command waits for its reply: MAIL, 20 RCPT, DATA, the dot.
    expect(plain.transaction).toBe(23);
    // EHLO and QUIT add one turn each; with PIPELINING and without atleastone, QUIT goes with the end of data (no
    // 452 follow-up can come).
    expect([piped.total, pipedStrict.total, plain.total]).toEqual([4, 3, 25]);
  });
});
