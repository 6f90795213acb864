/**
 * Reply parsing (RFC 5321 §4.2) with enhanced status codes (RFC 3463) and the
 * bounds that keep a hostile server from growing a reply without end.
 */
import { SmtpError } from '../../../lib/errors';
import { enhancedCode, isIntermediate, isPermanent, isPositive, isTransient, MAX_REPLY_LINES, parseReply, ReplyAssembler, splitReplyLine } from '../../../smtp/protocol/reply';

function protocolError(fn: () => unknown): SmtpError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SmtpError);
    expect((error as SmtpError).code).toBe('EPROTOCOL');
    return error as SmtpError;
  }
  throw new Error('expected an EPROTOCOL error');
}

describe('smtp/reply', () => {
  it('parses a one-line reply with its enhanced code and Tcllib diagnostic', () => {
    const reply = parseReply(['550 5.1.1 no such user  ']);
    expect(reply).toEqual({ code: 550, enhanced: '5.1.1', lines: ['5.1.1 no such user  '], text: '5.1.1 no such user' });
  });

  it('parses a multi-line reply: every line kept, the code once', () => {
    const reply = parseReply(['250-mx.example.org hello', '250-PIPELINING', '250 SIZE 1000']);
    expect(reply.code).toBe(250);
    expect(reply.lines).toEqual(['mx.example.org hello', 'PIPELINING', 'SIZE 1000']);
    expect(reply.text).toBe('mx.example.org hello');
    expect(reply.enhanced).toBeNull();
  });

  it('accepts a bare code as the last line', () => {
    expect(parseReply(['250-first', '250'])).toMatchObject({ code: 250, lines: ['first', ''] });
    expect(splitReplyLine('354')).toEqual({ code: 354, last: true, text: '' });
  });

  it('refuses multi-line replies whose lines disagree on the code', () => {
    const error = protocolError(() => parseReply(['250-ok', '550 no'], 'ehlo'));
    expect(error.stage).toBe('ehlo');
    expect(error.message).toMatch(/250 then 550/);
  });

  it.each(['garbage', '25 short', '2500 long', '250_x', 'abc def', '', '650 not a class', '099 low'])('refuses the malformed line %j', (line) => {
    protocolError(() => parseReply([line]));
  });

  it('keeps an enhanced code only when its class matches the reply code', () => {
    expect(enhancedCode(250, '2.1.5 ok')).toBe('2.1.5');
    expect(enhancedCode(550, '2.1.5 odd')).toBeNull();
    expect(enhancedCode(451, '4.7.0\ttry later')).toBe('4.7.0');
    expect(enhancedCode(550, '5.1.10 x')).toBe('5.1.10');
    expect(enhancedCode(550, '5.1.1000 x')).toBeNull();
    expect(enhancedCode(550, '5.1.1x')).toBeNull();
  });

  it('classifies replies', () => {
    const of = (code: number) => parseReply([`${code} x`]);
    expect([isPositive(of(250)), isIntermediate(of(354)), isTransient(of(451)), isPermanent(of(554))]).toEqual([true, true, true, true]);
    expect([isPositive(of(354)), isPermanent(of(451))]).toEqual([false, false]);
  });

  it('bounds the number of lines in one reply', () => {
    const assembler = new ReplyAssembler('ehlo');
    for (let i = 0; i < MAX_REPLY_LINES - 1; i++) expect(assembler.push('250-x')).toBeNull();
    const error = protocolError(() => assembler.push('250-one too many'));
    expect(error.message).toMatch(/longer than 1000 lines/);
  });

  it('accepts a reply of exactly the line limit', () => {
    const lines = [...Array.from({ length: MAX_REPLY_LINES - 1 }, () => '250-x'), '250 end'];
    expect(parseReply(lines).lines).toHaveLength(MAX_REPLY_LINES);
  });

  it('bounds the bytes of one reply', () => {
    const assembler = new ReplyAssembler('data', { maxLines: 1000, maxBytes: 100 });
    expect(assembler.push(`250-${'a'.repeat(60)}`)).toBeNull();
    protocolError(() => assembler.push(`250-${'a'.repeat(60)}`));
  });

  it('assembles replies one after another (pipelining)', () => {
    const assembler = new ReplyAssembler('mail');
    expect(assembler.push('250 2.1.0 ok')?.code).toBe(250);
    expect(assembler.empty).toBe(true);
    expect(assembler.push('550-5.1.1 no')).toBeNull();
    expect(assembler.empty).toBe(false);
    expect(assembler.push('550 5.1.1 such user')).toMatchObject({ code: 550, enhanced: '5.1.1', lines: ['5.1.1 no', '5.1.1 such user'] });
  });
});
