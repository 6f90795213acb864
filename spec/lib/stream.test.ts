/**
 * The body codec guards against SMTP smuggling (no lone CR or LF on the wire)
 * and DATA injection (dot-stuffing, one terminator). Chunk boundaries are where
 * streaming codecs break, so tricky inputs are fed in every possible split and
 * compared with a whole-string reference written the obvious, slow way.
 */
import fc from 'fast-check';
import { DataCodec, firstEightBitOffset, normalizedLength } from '../../lib/stream';
/** What goes on the wire after DATA's 354 for `message`: the codec's output and the end of data. */
function encodeData(message: Buffer | string): Buffer {
  const codec = new DataCodec();
  return Buffer.concat([codec.encode(typeof message === 'string' ? Buffer.from(message) : message), codec.end()]);
}


/** The reference: normalize every line end, end the last line, stuff, terminate. */
function reference(input: string): string {
  let text = input.replace(/\r\n|\r|\n/g, '\r\n');
  if (text !== '' && !text.endsWith('\r\n')) text += '\r\n';
  const lines = text === '' ? [] : text.slice(0, -2).split('\r\n');
  return lines.map((line) => (line.startsWith('.') ? `.${line}\r\n` : `${line}\r\n`)).join('') + '.\r\n';
}

function encodeInChunks(chunks: Buffer[]): string {
  const codec = new DataCodec();
  const out = chunks.map((c) => codec.encode(c));
  out.push(codec.end());
  return Buffer.concat(out).toString('latin1');
}

/** Every way to cut `text` into consecutive non-empty chunks (2^(n-1) of them). */
function* everySplit(text: string): Generator<Buffer[]> {
  const bytes = Buffer.from(text, 'latin1');
  const cuts = bytes.length - 1;
  for (let mask = 0; mask < 1 << Math.max(cuts, 0); mask++) {
    const chunks: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < cuts; i++) {
      if (mask & (1 << i)) {
        chunks.push(bytes.subarray(start, i + 1));
        start = i + 1;
      }
    }
    chunks.push(bytes.subarray(start));
    yield chunks;
  }
}

const TRICKY: Array<[string, string]> = [
  ['\n.\n', '\r\n..\r\n.\r\n'],
  ['\r.\r', '\r\n..\r\n.\r\n'],
  ['.\r\n', '..\r\n.\r\n'],
  ['a\r', 'a\r\n.\r\n'],
  ['a\r\nb', 'a\r\nb\r\n.\r\n'],
  ['a\rb', 'a\r\nb\r\n.\r\n'],
  ['a\r\r\nb', 'a\r\n\r\nb\r\n.\r\n'],
  ['\r\n.\r\n', '\r\n..\r\n.\r\n'],
  ['x\n.\r\nQUIT\r\n', 'x\r\n..\r\nQUIT\r\n.\r\n'],
  ['a\n\rb', 'a\r\n\r\nb\r\n.\r\n'],
  ['..', '...\r\n.\r\n'],
  ['', '.\r\n'],
  ['\r', '\r\n.\r\n'],
  ['.', '..\r\n.\r\n'],
  ['end\r\n', 'end\r\n.\r\n'],
];

describe('lib/stream: the SMTP body codec', () => {
  it.each(TRICKY)('encodes %j the same in every chunk split', (input, expected) => {
    expect(reference(input)).toBe(expected);
    let splits = 0;
    for (const chunks of everySplit(input)) {
      expect(encodeInChunks(chunks)).toBe(expected);
      splits++;
    }
    expect(splits).toBe(input.length === 0 ? 1 : 2 ** (input.length - 1));
  });

  it('puts no bare CR or LF on the wire (SMTP smuggling: <LF>.<CR><LF>)', () => {
    const wire = encodeData(Buffer.from('Hi\n.\r\nMAIL FROM:<evil@x>\r\n\r.\r\n', 'latin1')).toString('latin1');
    expect(wire).toBe('Hi\r\n..\r\nMAIL FROM:<evil@x>\r\n\r\n..\r\n.\r\n');
    expect(wire.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(wire.indexOf('\r\n.\r\n')).toBe(wire.length - 5);
  });

  it('matches the reference for any bytes in any chunks (property)', () => {
    const alphabet = fc.constantFrom('.', '\r', '\n', 'a', ' ', '\xff');
    fc.assert(
      fc.property(fc.array(fc.array(alphabet, { maxLength: 8 }).map((a) => a.join('')), { maxLength: 8 }), (pieces) => {
        const input = pieces.join('');
        const wire = encodeInChunks(pieces.map((p) => Buffer.from(p, 'latin1')));
        expect(wire).toBe(reference(input));
        // Invariants that do not depend on the reference: only CRLF line ends, one terminator at the very end.
        expect(wire.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        expect(wire.endsWith('.\r\n')).toBe(true);
        const beforeEnd = wire.slice(0, -3);
        expect(beforeEnd === '' || beforeEnd.endsWith('\r\n')).toBe(true);
        expect(('\r\n' + beforeEnd).includes('\r\n.\r\n')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('counts the SIZE octets: normalized, not stuffed, last line ended', () => {
    for (const [input] of TRICKY) {
      const bytes = Buffer.from(input, 'latin1');
      const codec = new DataCodec();
      codec.encode(bytes);
      codec.end();
      expect([input, normalizedLength(bytes)]).toEqual([input, codec.contentLength]);
      expect([input, normalizedLength(bytes)]).toEqual([input, Buffer.byteLength(unstuffLines(reference(input)), 'latin1')]);
    }
  });

  it('finds the first 8-bit byte', () => {
    expect(firstEightBitOffset(Buffer.from('plain ascii\r\n'))).toBe(-1);
    expect(firstEightBitOffset(Buffer.from('caf\xe9', 'latin1'))).toBe(3);
    expect(firstEightBitOffset(Buffer.from('\u00e9'))).toBe(0);
  });
});

/** The message as the server stores it: stuffing undone, terminator removed. */
function unstuffLines(wire: string): string {
  const body = wire.slice(0, -3);
  return body
    .split('\r\n')
    .map((line) => (line.startsWith('.') ? line.slice(1) : line))
    .join('\r\n');
}
