/**
 * A transaction planned as a value: the server's EHLO lines and what is known
 * about the message go in, the exact MAIL FROM and RCPT TO lines come out (or
 * the refusal, before anything is written). No server is needed: the planner
 * is pure, and the session only carries out what it returns.
 */
import { InvalidInputError, OptionError, SmtpError } from '../../../lib/errors';
import * as cmd from '../../../smtp/protocol/command';
import { parseEhlo } from '../../../smtp/protocol/extensions';
import { parseReply } from '../../../smtp/protocol/reply';
import { type MessageFacts, planBody, planTransaction, readRequest, type RequestOptions, type Transaction } from '../../../smtp/protocol/transaction';
import type { Extensions } from '../../../smtp/protocol/types';

/** The extensions of an EHLO reply whose keyword lines are `keywords`. */
function ehlo(...keywords: string[]): Extensions {
  const lines = ['mx.example.org hello', ...keywords];
  return parseEhlo(parseReply(lines.map((line, i) => `250${i === lines.length - 1 ? ' ' : '-'}${line}`)));
}

const ASCII: MessageFacts = { size: 1200, eightBit: false, eightBitOffset: null };
const EIGHT_BIT: MessageFacts = { size: 1200, eightBit: true, eightBitOffset: 42 };
const STREAM: MessageFacts = { size: null, eightBit: null, eightBitOffset: null };

function request(from: string, to: string[], options: RequestOptions = {}, secure = false) {
  return readRequest(from, to, options, { secure, server: 'mx.example.org' });
}

/** The command lines the plan renders, as the server would read them. */
function lines(tx: Transaction): string[] {
  return [cmd.mail(tx.mail.reversePath, tx.mail.params).line, ...tx.rcpts.map((r) => cmd.rcpt(r.forwardPath, r.params).line)];
}

function plan(ext: Extensions | null, message: MessageFacts, from: string, to: string[], options: RequestOptions = {}, secure = false): string[] {
  return lines(planTransaction(ext, message, request(from, to, options, secure)));
}

function refusal(run: () => unknown): SmtpError {
  try {
    run();
  } catch (error) {
    if (error instanceof SmtpError) return error;
    throw error;
  }
  throw new Error('the plan was not refused');
}

describe('planTransaction: MAIL FROM parameters from the server\'s answers', () => {
  it('declares SIZE only when offered, and nothing else for a 7-bit message', () => {
    expect(plan(ehlo('SIZE 10000', '8BITMIME'), ASCII, 'ann@example.org', ['bob@example.net'])).toEqual([
      'MAIL FROM:<ann@example.org> SIZE=1200',
      'RCPT TO:<bob@example.net>',
    ]);
    expect(plan(ehlo('8BITMIME'), ASCII, 'ann@example.org', ['bob@example.net'])).toEqual(['MAIL FROM:<ann@example.org>', 'RCPT TO:<bob@example.net>']);
  });

  it('declares BODY=8BITMIME for an 8-bit message, and for a stream whose content is not known', () => {
    expect(plan(ehlo('SIZE', '8BITMIME'), EIGHT_BIT, 'a@x.org', ['b@y.org'])[0]).toBe('MAIL FROM:<a@x.org> SIZE=1200 BODY=8BITMIME');
    expect(plan(ehlo('8BITMIME'), STREAM, 'a@x.org', ['b@y.org'])[0]).toBe('MAIL FROM:<a@x.org> BODY=8BITMIME');
  });

  it('refuses a message larger than the SIZE limit (ESIZE), and takes one when the limit is 0 (none)', () => {
    expect(refusal(() => plan(ehlo('SIZE 1000'), ASCII, 'a@x.org', ['b@y.org']))).toMatchObject({ code: 'ESIZE', stage: 'mail' });
    expect(plan(ehlo('SIZE 0'), ASCII, 'a@x.org', ['b@y.org'])[0]).toBe('MAIL FROM:<a@x.org> SIZE=1200');
  });

  it('refuses an 8-bit message to a server without 8BITMIME before MAIL, and watches a stream instead', () => {
    const error = refusal(() => plan(ehlo('SIZE'), EIGHT_BIT, 'a@x.org', ['b@y.org']));
    expect(error).toMatchObject({ code: 'EEXTENSION', stage: 'mail' });
    expect(error.message).toMatch(/offset 42 but mx\.example\.org does not offer 8BITMIME/);
    const streamed = planTransaction(ehlo('SIZE'), STREAM, request('a@x.org', ['b@y.org']));
    expect(streamed.guardSevenBit).toBe(true);
    expect(lines(streamed)[0]).toBe('MAIL FROM:<a@x.org>');
  });

  it('after HELO (no extensions) declares nothing and still refuses a known 8-bit message', () => {
    expect(plan(null, ASCII, 'a@x.org', ['b@y.org'])).toEqual(['MAIL FROM:<a@x.org>', 'RCPT TO:<b@y.org>']);
    expect(refusal(() => plan(null, EIGHT_BIT, 'a@x.org', ['b@y.org'])).code).toBe('EEXTENSION');
  });

  it('lets a caller\'s own SIZE and BODY stand instead of the planned ones, and keeps other parameters as given', () => {
    const ext = ehlo('SIZE', '8BITMIME');
    expect(plan(ext, EIGHT_BIT, 'a@x.org', ['b@y.org'], { mailParams: ['size=99', 'BODY=8bitmime', 'x-trace=abc'] })[0]).toBe(
      'MAIL FROM:<a@x.org> SIZE=99 BODY=8BITMIME X-TRACE=abc',
    );
  });

  it('refuses a caller\'s parameter that is not one (a space, a line break, a SIZE that is not a number)', () => {
    for (const bad of ['RET=HDRS\r\nRCPT TO:<e@x>', 'SIZE=1 RET=FULL', 'SIZE=big', 'BODY=9BIT', '=x']) {
      expect(() => request('a@x.org', ['b@y.org'], { mailParams: [bad] })).toThrow(InvalidInputError);
    }
    expect(() => request('a@x.org', ['b@y.org'], { rcptParams: ['NOTIFY=NEVER X=1'] })).toThrow(InvalidInputError);
  });
});

describe('planTransaction: addresses (RFC 6531)', () => {
  it('writes an IDN domain as A-labels without SMTPUTF8, and as written with it (then SMTPUTF8 on MAIL)', () => {
    expect(plan(ehlo('8BITMIME'), ASCII, 'ann@b\u00fccher.example', ['bob@m\u00fcnchen.example'])).toEqual([
      'MAIL FROM:<ann@xn--bcher-kva.example>',
      'RCPT TO:<bob@xn--mnchen-3ya.example>',
    ]);
    expect(plan(ehlo('8BITMIME', 'SMTPUTF8'), ASCII, 'ann@b\u00fccher.example', ['bob@example.net'])).toEqual([
      'MAIL FROM:<ann@b\u00fccher.example> SMTPUTF8',
      'RCPT TO:<bob@example.net>',
    ]);
  });

  it('refuses a non-ASCII local part to a server without SMTPUTF8 as the server\'s shortcoming (EEXTENSION)', () => {
    const error = refusal(() => plan(ehlo('8BITMIME'), ASCII, 'ann@example.org', ['j\u00f6rg@example.net']));
    expect(error).toMatchObject({ code: 'EEXTENSION', stage: 'mail' });
    expect(error.message).toMatch(/"j\u00f6rg@example.net" has a non-ASCII local part and mx\.example\.org does not offer SMTPUTF8/);
  });

  it('declares SMTPUTF8 for a UTF-8 header block even when every address is ASCII', () => {
    expect(plan(ehlo('SMTPUTF8', '8BITMIME'), { ...EIGHT_BIT, utf8Header: true }, 'a@x.org', ['b@y.org'])[0]).toBe('MAIL FROM:<a@x.org> BODY=8BITMIME SMTPUTF8');
  });

  it('refuses what cannot go on a command line before anything else', () => {
    expect(() => request('a@x.org>\r\nRSET', ['b@y.org'])).toThrow(InvalidInputError);
    expect(() => request('a@x.org', ['foo@x> ORCPT=rfc822;evil@x'])).toThrow(InvalidInputError);
    expect(() => request('a@x.org', [''])).toThrow(InvalidInputError);
    expect(() => request('a@x.org', [])).toThrow(InvalidInputError);
  });
});

describe('planTransaction: DSN, REQUIRETLS, CHUNKING and BINARYMIME', () => {
  const dsn = { notify: { 'bob@example.net': 'never', '*': 'failure,delay' }, ret: 'hdrs', envid: 'id 42+', orcpt: true };

  it('puts RET and ENVID on MAIL and NOTIFY and ORCPT on each RCPT, as xtext, when DSN is offered', () => {
    expect(plan(ehlo('DSN', '8BITMIME'), ASCII, 'a@x.org', ['bob@example.net', 'cy@example.net'], { dsn, rcptParams: ['X-A=1'] })).toEqual([
      'MAIL FROM:<a@x.org> RET=HDRS ENVID=id+2042+2B',
      'RCPT TO:<bob@example.net> X-A=1 NOTIFY=NEVER ORCPT=rfc822;bob@example.net',
      'RCPT TO:<cy@example.net> X-A=1 NOTIFY=FAILURE,DELAY ORCPT=rfc822;cy@example.net',
    ]);
  });

  it('leaves the DSN requests out when DSN is not offered, and refuses the server when they are required', () => {
    expect(plan(ehlo('8BITMIME'), ASCII, 'a@x.org', ['bob@example.net'], { dsn })).toEqual(['MAIL FROM:<a@x.org>', 'RCPT TO:<bob@example.net>']);
    expect(refusal(() => plan(ehlo('8BITMIME'), ASCII, 'a@x.org', ['b@y.org'], { dsn: { ...dsn, required: true } })).code).toBe('EEXTENSION');
    expect(() => request('a@x.org', ['b@y.org'], { dsn: { ret: 'most' } })).toThrow(OptionError);
  });

  it('REQUIRETLS: refused in clear text (ETLS) or without the extension (EEXTENSION), else declared', () => {
    const ext = ehlo('8BITMIME', 'REQUIRETLS');
    expect(refusal(() => plan(ext, ASCII, 'a@x.org', ['b@y.org'], { requiretls: true }, false)).code).toBe('ETLS');
    expect(refusal(() => plan(ehlo('8BITMIME'), ASCII, 'a@x.org', ['b@y.org'], { requiretls: true }, true)).code).toBe('EEXTENSION');
    expect(plan(ext, ASCII, 'a@x.org', ['b@y.org'], { requiretls: true }, true)[0]).toBe('MAIL FROM:<a@x.org> REQUIRETLS');
  });

  it('plans BDAT with CHUNKING (unless chunking is off), and BINARYMIME untouched only when both are offered', () => {
    const req = request('a@x.org', ['b@y.org'], { binarymime: true });
    expect(planBody(ehlo('CHUNKING', '8BITMIME'), request('a@x.org', ['b@y.org']), false)).toEqual({ transfer: 'BDAT', binary: false, sevenBit: false });
    expect(planBody(ehlo('CHUNKING', '8BITMIME'), request('a@x.org', ['b@y.org'], { chunking: false }), false).transfer).toBe('DATA');
    expect(planBody(ehlo('CHUNKING', 'BINARYMIME', '8BITMIME'), req, false)).toEqual({ transfer: 'BDAT', binary: true, sevenBit: false });
    // A token is re-encoded to 7 bits instead; any other binary source is refused: DATA would change it.
    expect(planBody(ehlo('8BITMIME'), req, true)).toEqual({ transfer: 'DATA', binary: false, sevenBit: true });
    expect(refusal(() => planBody(ehlo('8BITMIME'), req, false)).code).toBe('EEXTENSION');
    const binary = planTransaction(ehlo('CHUNKING', 'BINARYMIME', 'SIZE'), EIGHT_BIT, req);
    expect(lines(binary)[0]).toBe('MAIL FROM:<a@x.org> SIZE=1200 BODY=BINARYMIME');
  });

  it('asks a token to re-encode to 7 bits when the server has no 8BITMIME', () => {
    expect(planBody(ehlo('SIZE'), request('a@x.org', ['b@y.org']), true).sevenBit).toBe(true);
    expect(planBody(ehlo('SIZE', '8BITMIME'), request('a@x.org', ['b@y.org']), true).sevenBit).toBe(false);
  });
});
