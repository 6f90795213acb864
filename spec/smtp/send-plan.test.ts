/**
 * The send plan: options read once into where to go, how the session is opened
 * and what the message is. Also guards the one module-level shortcut of the
 * plan, the Date value formatted once per second (docs/fast-paths.md).
 */
import { finalize, initialize, type Token } from '../../mime';
import { formatDate } from '../../mime/codec/datetime';
import { OptionError } from '../../lib/errors';
import { planSend, sameSession } from '../../smtp/send-plan';

const HEADER = [['From', 'ann@example.org'], ['To', 'bob@example.net']];

let tok: Token;
beforeEach(() => {
  tok = initialize({ canonical: 'text/plain', string: 'hi\r\n' });
});
afterEach(() => {
  jest.restoreAllMocks();
  finalize(tok);
});

function dateOf(at: number): string | undefined {
  jest.spyOn(Date, 'now').mockReturnValue(at);
  const plan = planSend(tok, [{ servers: 'mx.example.org', header: HEADER }]);
  return plan.message.envelope.addHeaders.find(([name]) => name === 'Date')?.[1];
}

describe('send plan', () => {
  it('adds the Date of the second the message is planned in, formatted once per second', () => {
    const start = Date.UTC(2026, 0, 2, 3, 4, 5, 100);
    expect(dateOf(start)).toBe(formatDate(new Date(start)));
    // Later in the same second: the same text (the cached one).
    expect(dateOf(start + 850)).toBe(formatDate(new Date(start)));
    // The next second, and a jump back in time (a clock set back): each formatted anew.
    expect(dateOf(start + 900)).toBe(formatDate(new Date(start + 900)));
    expect(dateOf(start + 900)).not.toBe(formatDate(new Date(start)));
    expect(dateOf(start - 86_400_000)).toBe(formatDate(new Date(start - 86_400_000)));
  });

  it('keeps the session settings apart from the message settings', () => {
    const plan = planSend(tok, [{ servers: ['mx1.example.org', 'mx2.example.org'], ports: [25, 587], username: 'u', password: 'p', atleastone: true, header: HEADER }]);
    expect(plan.targets).toEqual([{ server: 'mx1.example.org', port: 25 }, { server: 'mx2.example.org', port: 587 }]);
    expect(plan.session).toMatchObject({ username: 'u', password: 'p', starttls: 'opportunistic', protocol: 'smtp' });
    expect(plan.message).toMatchObject({ atleastone: true, bcc: 'same', maxsecs: 120 });
    expect(plan.envelope).toBe(plan.message.envelope);
    expect(plan.envelope.recipients).toEqual(['bob@example.net']);
  });

  it('gives two messages the same session only when every session setting is the same', () => {
    const tls = { rejectUnauthorized: true };
    const a = planSend(tok, [{ servers: 'mx.example.org', header: HEADER, tls, atleastone: true }]);
    // Message settings differ: the session is the same.
    const b = planSend(tok, [{ servers: 'other.example.org', header: [...HEADER, ['Subject', 'x']], tls, maxsecs: 5 }]);
    expect(sameSession(a.session, b.session)).toBe(true);
    // Other credentials, other TLS options (even equal ones: compared by identity), another policy: another session.
    expect(sameSession(a.session, planSend(tok, [{ servers: 'mx.example.org', header: HEADER, tls, username: 'u' }]).session)).toBe(false);
    expect(sameSession(a.session, planSend(tok, [{ servers: 'mx.example.org', header: HEADER, tls: { rejectUnauthorized: true } }]).session)).toBe(false);
    expect(sameSession(a.session, planSend(tok, [{ servers: 'mx.example.org', header: HEADER, tls, tlspolicy: () => 'insecure' }]).session)).toBe(false);
  });

  it('reads a port written with the server (host:port, [IPv6]:port) instead of the ports entry', () => {
    const plan = planSend(tok, [{ servers: ['127.0.0.1:2525', 'mx.example.org', '[2001:db8::1]:587', '2001:db8::2'], ports: [25, 26], header: HEADER }]);
    expect(plan.targets).toEqual([
      { server: '127.0.0.1', port: 2525 },
      { server: 'mx.example.org', port: 26 },
      { server: '2001:db8::1', port: 587 },
      // A bare IPv6 address has no port of its own: the last ports entry repeats.
      { server: '2001:db8::2', port: 26 },
    ]);
    // Loopback is recognised in its host:port form too: the EHLO name is 'localhost'.
    expect(plan.session.client).toBe('localhost');
    expect(() => planSend(tok, [{ servers: ['127.0.0.1:99999'], header: HEADER }])).toThrow(/-servers: "127.0.0.1:99999": 99999 is not a TCP port/);
    expect(() => planSend(tok, [{ servers: ['127.0.0.1:0'], header: HEADER }])).toThrow(OptionError);
  });
});
