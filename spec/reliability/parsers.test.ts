/**
 * Property tests for the three parsers that read what others wrote (docs/security.md,
 * A9, A11, A12): the SMTP reply parser, the MIME parser and parseaddress. No
 * input makes any of them throw anything but a typed error; the MIME parser
 * and parseaddress never throw at all (they record defects and errors). Size
 * bombs, deep nesting and linear-time checks live with each parser's own
 * tests (spec/mime/parse/limits.test.ts, spec/lib/address.test.ts) and the
 * benchmarks; here the inputs are many and small.
 */
import fc from 'fast-check';
import { InvalidInputError, MimeError, OptionError, SmtpError } from '../../lib/errors';
import { parseaddress } from '../../mime/address';
import * as mime from '../../mime';
import { parseBuffer } from '../../mime/parse/message';
import type { Part } from '../../mime/part';
import { MAX_REPLY_LINES, parseReply, ReplyAssembler, splitReplyLine } from '../../smtp/protocol/reply';
import { connect } from '../../smtp/protocol/session';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

const RUNS = 300;

/** Characters that matter to the parsers, plus controls, non-ASCII and the odd surrogate. */
const nasty = fc.constantFrom(
  ...'0123456789 -.:;,<>()[]@"\\=?_\t\r\n\0\x7f\x85\u00e9\u2028\ud800abcXYZ'.split(''),
);
const nastyString = fc.string({ unit: fc.oneof({ arbitrary: nasty, weight: 4 }, { arbitrary: fc.string({ minLength: 1, maxLength: 1 }), weight: 1 }), maxLength: 60 });

function typedOnly(run: () => unknown, types: Array<new (...args: never[]) => Error>): void {
  try {
    run();
  } catch (error) {
    if (!types.some((type) => error instanceof type)) throw error;
  }
}

describe('the SMTP reply parser', () => {
  const replyLine = fc.oneof(
    nastyString,
    fc.tuple(fc.integer({ min: 0, max: 999 }), fc.constantFrom(' ', '-', '', '\t', 'x'), nastyString).map(([code, sep, text]) => `${String(code).padStart(3, '0')}${sep}${text}`),
  );

  it('any list of lines gives a Reply or an EPROTOCOL SmtpError, nothing else', () => {
    fc.assert(
      fc.property(fc.array(replyLine, { maxLength: 8 }), (lines) => {
        try {
          const reply = parseReply(lines, 'ehlo');
          expect(reply.code).toBeGreaterThanOrEqual(100);
          expect(reply.code).toBeLessThan(600);
          expect(reply.lines).toHaveLength(lines.length);
        } catch (error) {
          expect(error).toBeInstanceOf(SmtpError);
          expect([(error as SmtpError).code, (error as SmtpError).stage]).toEqual(['EPROTOCOL', 'ehlo']);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('line by line, the assembler keeps taking replies after each one ends, and stops at the first bad line', () => {
    fc.assert(
      fc.property(fc.array(replyLine, { maxLength: 20 }), (lines) => {
        const assembler = new ReplyAssembler('mail');
        for (const line of lines) {
          try {
            const reply = assembler.push(line);
            if (reply) expect(assembler.empty).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(SmtpError);
            expect((error as SmtpError).code).toBe('EPROTOCOL');
            return;
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a well-formed reply reads back as written: code, every line, the enhanced code of its class', () => {
    const text = fc.string({ unit: fc.constantFrom(...'abc XYZ 0.1.2;:-'.split('')), maxLength: 30 });
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 599 }), fc.array(text, { minLength: 1, maxLength: 6 }), fc.boolean(), (code, texts, withStatus) => {
        const status = `${Math.floor(code / 100)}.1.${code % 10}`;
        const body = withStatus ? [`${status} ${texts[0]}`, ...texts.slice(1)] : texts;
        const lines = body.map((t, i) => `${code}${i < body.length - 1 ? '-' : ' '}${t}`);
        const reply = parseReply(lines);
        expect(reply.code).toBe(code);
        expect(reply.lines).toEqual(body);
        expect(reply.text).toBe(body[0].trim());
        // RFC 3463 has classes 2, 4 and 5 only: a 3yz reply carries no enhanced code.
        if (withStatus) expect(reply.enhanced).toBe(code >= 300 && code < 400 ? null : status);
      }),
      { numRuns: RUNS },
    );
  });

  it('a multi-line reply whose codes differ anywhere is EPROTOCOL', () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 599 }), fc.integer({ min: 200, max: 599 }), fc.nat(5), (a, b, at) => {
        fc.pre(a !== b);
        const lines = Array.from({ length: 7 }, (_, i) => `${i === at ? b : a}${i < 6 ? '-' : ' '}x`);
        expect(() => parseReply(lines)).toThrow(SmtpError);
      }),
      { numRuns: 100 },
    );
  });

  it('splitReplyLine never throws and only accepts 2yz..5yz (and 1yz) with a space, a dash or nothing after the code', () => {
    fc.assert(
      fc.property(nastyString, (line) => {
        const parts = splitReplyLine(line);
        if (parts) {
          expect(/^[1-5][0-9]{2}([ -]|$)/.test(line)).toBe(true);
          expect(parts.code).toBe(Number(line.slice(0, 3)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('stops a reply at its line bound', () => {
    const lines = [...Array.from({ length: MAX_REPLY_LINES + 5 }, () => '250-x'), '250 end'];
    expect(() => parseReply(lines)).toThrow(/1000 lines/);
  });

  describe('over a socket', () => {
    let srv: ScriptedServer;
    let reply: Buffer = Buffer.alloc(0);
    beforeAll(async () => {
      srv = await scriptedServer({ on: { NOOP: () => ({ raw: reply, close: true }) } });
    });
    afterAll(() => srv.close());

    it('random bytes as the answer to a command end in a Reply or a typed SmtpError, quickly', async () => {
      const bytes = fc.array(fc.oneof(fc.constantFrom(...['250', '250-', '250 ', '\r\n', '\n', '\r', '-', ' ', '5', '0', 'x', '\0', '\xff'].map((s) => Buffer.from(s, 'latin1'))), fc.uint8Array({ maxLength: 4 }).map((a) => Buffer.from(a))), { maxLength: 30 });
      await fc.assert(
        fc.asyncProperty(bytes, async (pieces) => {
          reply = Buffer.concat(pieces);
          const session = await connect({ server: '127.0.0.1', port: srv.port, maxsecs: 5 });
          try {
            const answer = await session.noop();
            expect(answer.code).toBeGreaterThanOrEqual(100);
          } catch (error) {
            expect(error).toBeInstanceOf(SmtpError);
            expect(['EPROTOCOL', 'ECONNECTION']).toContain((error as SmtpError).code);
          } finally {
            session.close();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
});

describe('the MIME parser', () => {
  const FIELDS = [
    'Content-Type: multipart/mixed; boundary="b"',
    'Content-Type: multipart/alternative; boundary=b',
    'Content-Type: multipart/digest; boundary="b b"',
    'Content-Type: message/rfc822',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Type: text/plain; charset=x-unknown',
    'Content-Type: text/plain; name*=utf-8\'\'%E9%ZZ',
    'Content-Type: ;;;',
    'Content-Type: multipart/mixed',
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Transfer-Encoding: x-uuencode',
    'MIME-Version: 2.0',
    'Subject: =?utf-8?B?w6k=?= =?bogus?Q?=ZZ?=',
    'From: "a" <b@c>',
    ' folded continuation',
    '\tanother fold',
    'no colon here',
    ':empty name',
    'From mbox line',
  ];
  const BODY = ['--b', '--b--', '--b  ', '--b b', '--b b--', 'text', '=E9=', '=\r', 'w6k=', '====', 'AAAA', '.', ''];
  const EOL = ['\r\n', '\n', '\r'];
  const piece = fc.oneof(
    { arbitrary: fc.constantFrom(...FIELDS), weight: 3 },
    { arbitrary: fc.constantFrom(...BODY), weight: 3 },
    { arbitrary: nastyString, weight: 1 },
  );
  const message = fc.array(fc.tuple(piece, fc.constantFrom(...EOL)), { maxLength: 40 }).map((lines) => Buffer.from(lines.map(([l, e]) => l + e).join(''), 'utf8'));

  function walk(part: Part, depth = 0): number {
    expect(depth).toBeLessThanOrEqual(60);
    let count = 1;
    for (const child of part.body.kind === 'parts' ? part.body.parts : []) count += walk(child, depth + 1);
    return count;
  }

  it('parseBuffer never throws, on message-shaped input or on any bytes', () => {
    fc.assert(
      fc.property(fc.oneof(message, fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a))), (bytes) => {
        const part = parseBuffer(bytes);
        expect(walk(part)).toBeGreaterThanOrEqual(1);
        expect(Array.isArray(part.defects)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('through the public API every part can be read, decoded and rebuilt, or gives a typed error', () => {
    const typed = [MimeError, InvalidInputError, OptionError];
    let visited = 0;
    const nested = Buffer.from('Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\nhi\r\n--b--\r\n');
    fc.assert(
      fc.property(message, (bytes) => {
        const tok = mime.initialize({ string: bytes });
        try {
          const visit = (t: mime.Token): void => {
            visited++;
            typedOnly(() => mime.getproperty(t), typed);
            typedOnly(() => mime.getheader(t), typed);
            const props = mime.getproperty(t) as { parts?: mime.Token[] };
            if (props.parts) props.parts.forEach(visit);
            else {
              typedOnly(() => mime.getbody(t), typed);
              typedOnly(() => mime.getbody(t, { decode: true }), typed);
            }
          };
          visit(tok);
          typedOnly(() => mime.buildmessage(tok), typed);
        } finally {
          mime.finalize(tok, { subordinates: 'all' });
        }
      }),
      { numRuns: 200, examples: [[nested]] },
    );
    // 199 random messages and the nested example (three parts): the walk went below the top.
    expect(visited).toBeGreaterThan(200);
  });
});

describe('parseaddress', () => {
  const KEYS = ['address', 'comment', 'domain', 'error', 'friendly', 'group', 'local', 'memberP', 'phrase', 'proper', 'route'];
  const addressy = fc.string({
    unit: fc.oneof(
      { arbitrary: fc.constantFrom(...'<>()@,;:"\\[]. '.split('')), weight: 4 },
      { arbitrary: fc.constantFrom(...'abcxyz09'.split('')), weight: 4 },
      { arbitrary: nasty, weight: 1 },
    ),
    maxLength: 80,
  });

  it('never throws: every entry has all of Tcllib\'s keys, and errors are recorded, not thrown', () => {
    fc.assert(
      fc.property(fc.oneof(addressy, nastyString), (text) => {
        const entries = parseaddress(text);
        expect(Array.isArray(entries)).toBe(true);
        for (const entry of entries) {
          expect(Object.keys(entry).sort()).toEqual(KEYS);
          expect(typeof entry.error).toBe('string');
          for (const key of KEYS) if (key !== 'memberP') expect(typeof (entry as unknown as Record<string, unknown>)[key]).toBe('string');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a plain local@domain list reads back address by address, with no error', () => {
    const atom = fc.string({ unit: fc.constantFrom(...'abcdefxyz0129-_'.split('')), minLength: 1, maxLength: 10 }).filter((a) => !a.startsWith('-'));
    const domain = fc.array(atom.map((a) => a.replace(/_/g, 'u')).filter((a) => !a.endsWith('-')), { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));
    fc.assert(
      fc.property(fc.array(fc.tuple(atom, domain), { minLength: 1, maxLength: 5 }), (pairs) => {
        const list = pairs.map(([l, d]) => `${l}@${d}`);
        const entries = parseaddress(list.join(', '));
        expect(entries.map((e) => e.error)).toEqual(list.map(() => ''));
        expect(entries.map((e) => e.address)).toEqual(list);
      }),
      { numRuns: RUNS },
    );
  });

  it('whatever the input, no address it returns holds CR, LF or NUL unless its entry reports an error', () => {
    fc.assert(
      fc.property(fc.oneof(addressy, nastyString), (text) => {
        for (const entry of parseaddress(text)) {
          if (/[\r\n\0]/.test(entry.address)) expect(entry.error).not.toBe('');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
