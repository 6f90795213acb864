/**
 * Commands are values that render their exact line; the one writer refuses CR,
 * LF and NUL, and the builders refuse what would let a value smuggle a command
 * or a parameter (docs/security.md, A1, A3).
 */
import { InvalidInputError } from '../../../lib/errors';
import * as cmd from '../../../smtp/protocol/command';
import { BODY, parseMailParameter, parseRcptParameter } from '../../../smtp/protocol/parameters';

describe('smtp/command', () => {
  it('renders each verb exactly', () => {
    expect(cmd.ehlo('client.example').line).toBe('EHLO client.example');
    expect(cmd.helo('[192.0.2.1]').line).toBe('HELO [192.0.2.1]');
    expect(cmd.mail('a@x.org', [{ kind: 'SIZE', octets: 120 }, BODY['8BITMIME']]).line).toBe('MAIL FROM:<a@x.org> SIZE=120 BODY=8BITMIME');
    expect(cmd.mail('').line).toBe('MAIL FROM:<>');
    expect(cmd.rcpt('"john doe"@x.org', [{ kind: 'NOTIFY', when: ['SUCCESS', 'FAILURE'] }]).line).toBe('RCPT TO:<"john doe"@x.org> NOTIFY=SUCCESS,FAILURE');
    expect(cmd.data().line).toBe('DATA');
    expect(cmd.vrfy('postmaster').line).toBe('VRFY postmaster');
    expect(cmd.expn('staff').line).toBe('EXPN staff');
    expect(cmd.auth('PLAIN', 'AGEAYg==').line).toBe('AUTH PLAIN AGEAYg==');
    expect(cmd.auth('PLAIN', '').line).toBe('AUTH PLAIN =');
    expect(cmd.auth('LOGIN').line).toBe('AUTH LOGIN');
  });

  it('gives each command its RFC 5321 §4.5.3.2 wait and stage', () => {
    expect([cmd.mail('a@b').timeoutSecs, cmd.rcpt('a@b').timeoutSecs, cmd.data().timeoutSecs]).toEqual([300, 300, 120]);
    expect([cmd.mail('a@b').stage, cmd.rcpt('a@b').stage, cmd.data().stage, cmd.starttls().stage]).toEqual(['mail', 'rcpt', 'data', 'starttls']);
  });

  it('marks credentials secret', () => {
    expect(cmd.auth('PLAIN', 'x').secret).toBe(true);
    expect(cmd.auth('LOGIN').secret).toBe(false);
    expect(cmd.authResponse('dXNlcg==').secret).toBe(true);
    expect(cmd.authResponse('*').secret).toBe(false);
  });

  it.each([
    ['a CRLF in a quoted local part (MimeKit CVE-2026-30227 style)', () => cmd.rcpt('"x\r\nRCPT TO:<evil@x.org>\r\nNOOP "@b.org')],
    ['a LF in the sender', () => cmd.mail('a@x.org\nRSET')],
    ['a NUL in the sender', () => cmd.mail('a\0@x.org')],
    ['a CR in an EHLO name', () => cmd.ehlo('host\rRCPT TO:<e@x>')],
    ['a space in an EHLO name', () => cmd.ehlo('host name')],
    ['a CRLF in a MAIL parameter', () => parseMailParameter('SIZE=1\r\nRSET')],
    ['a space inside a parameter', () => parseMailParameter('SIZE=1 RET=FULL')],
    ['a space in a hand-made parameter value', () => cmd.mail('a@x', [{ kind: 'OTHER', keyword: 'X-A', value: '1 RCPT' }])],
    ['a CRLF in a RCPT parameter', () => parseRcptParameter('X-A=1\r\nRSET')],
    ['an = without keyword', () => parseMailParameter('=1')],
    ['a > smuggling parameters', () => cmd.rcpt('foo@x> ORCPT=rfc822;evil@x')],
    ['white space outside quotes', () => cmd.rcpt('a b@x.org')],
    ['an unterminated quote', () => cmd.rcpt('"abc@x.org')],
    ['an empty recipient', () => cmd.rcpt('')],
    ['a control in VRFY', () => cmd.vrfy('a\x07b')],
    ['a lowercase mechanism name', () => cmd.auth('plain')],
  ])('refuses %s with InvalidInputError', (_what, build) => {
    expect(build).toThrow(InvalidInputError);
  });

  it('writes lines only through commandBytes, which refuses CR, LF and NUL in any line', () => {
    const ok = cmd.commandBytes([cmd.mail('a@x'), cmd.rcpt('b@y'), cmd.data()]);
    expect(ok.toString()).toBe('MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n');
    // A hand-made command value cannot get past the writer either.
    const forged: cmd.Command = { verb: 'NOOP', line: 'NOOP\r\nRCPT TO:<evil@x>', stage: 'noop', timeoutSecs: 1, secret: false };
    expect(() => cmd.commandBytes([cmd.noop(), forged])).toThrow(InvalidInputError);
    expect(() => cmd.commandBytes([cmd.authResponse('abc\0')])).toThrow(InvalidInputError);
  });

  it('encodes UTF-8 addresses as UTF-8 (SMTPUTF8)', () => {
    expect(cmd.commandBytes([cmd.rcpt('jörg@bücher.example')]).toString('utf8')).toBe('RCPT TO:<jörg@bücher.example>\r\n');
  });
});

describe('reply deadlines', () => {
  it("are RFC 5321's, but a minute for the greeting, so a wrong port (HTTP, silent) fails in a minute, not after maxsecs", () => {
    expect(cmd.TIMEOUTS).toEqual({ greeting: 60, mail: 300, rcpt: 300, data: 120, block: 180, dot: 600, other: 300 });
  });
});
