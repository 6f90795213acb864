/**
 * The body codec hands on clean input as it is: lines that already end in
 * CRLF and need no stuffing are not copied (base64 attachments are all such
 * lines). Only bare line ends and leading dots split the output, and the
 * output is still exactly what the line-by-line rules give.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DataCodec, vouchCrlfLines } from '../../lib/stream';
import { Base64Encoder } from '../../mime/codec/encoders';

function base64Lines(bytes: number): Buffer {
  return Buffer.from(randomBytes(bytes).toString('base64').replace(/.{76}/g, '$&\r\n'), 'latin1');
}

describe('lib/stream: clean input passes through uncopied', () => {
  it('returns the very chunk for CRLF lines without a leading dot', () => {
    const codec = new DataCodec();
    const chunk = base64Lines(57 * 100);
    expect(codec.encode(chunk)).toBe(chunk);
    expect(codec.contentLength).toBe(chunk.length);
  });

  it('copies only around the lines that need a change, and counts without the stuffing', () => {
    const codec = new DataCodec();
    const chunk = Buffer.from('clean line\r\n.dot line\r\nbare lf\nend\r\n', 'latin1');
    const out = codec.encode(chunk);
    expect(out.toString('latin1')).toBe('clean line\r\n..dot line\r\nbare lf\r\nend\r\n');
    expect(codec.contentLength).toBe(Buffer.byteLength('clean line\r\n.dot line\r\nbare lf\r\nend\r\n'));
  });

  it('keeps a CRLF split across chunks whole, and a CR at a chunk end becomes CRLF once', () => {
    const codec = new DataCodec();
    const parts = ['abc\r', '\ndef\r', 'ghi'].map((s) => Buffer.from(s, 'latin1'));
    const out = Buffer.concat([...parts.map((p) => codec.encode(p)), codec.end()]).toString('latin1');
    expect(out).toBe('abc\r\ndef\r\nghi\r\n.\r\n');
  });

  it('stuffs a dot that starts the next chunk after a chunk ending in CRLF', () => {
    const codec = new DataCodec();
    const first = base64Lines(57 * 3);
    const out = Buffer.concat([codec.encode(first), codec.encode(Buffer.from('.x\r\n')), codec.end()]).toString('latin1');
    expect(out).toBe(`${first.toString('latin1')}..x\r\n.\r\n`);
  });
});

/**
 * One piece of a message as the codec may get it: the output of the mime
 * module's base64 encoder (vouched), other vouched lines (which, unlike the
 * encoder's chunks, may end in CRLF), or any bytes at all (scanned).
 */
type Piece = { kind: 'base64'; data: Buffer; end: boolean } | { kind: 'lines'; text: string } | { kind: 'raw'; text: string };

const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ kind: fc.constant('base64' as const), data: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)), end: fc.boolean() }),
  fc.record({
    kind: fc.constant('lines' as const),
    text: fc.array(fc.constantFrom('QUJD', 'eHl6', '+/09', '', '\r\n', '\r\n', 'A='), { maxLength: 12 }).map((a) => a.join('')),
  }),
  fc.record({
    kind: fc.constant('raw' as const),
    text: fc.array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', '.\r\n', 'From ', 'x'), { maxLength: 12 }).map((a) => a.join('')),
  }),
);

/** The buffers of `pieces` in order: vouched where the piece is, plain otherwise. */
function buffersOf(pieces: Piece[]): Buffer[] {
  const out: Buffer[] = [];
  let encoder = new Base64Encoder();
  for (const p of pieces) {
    if (p.kind === 'base64') {
      out.push(encoder.push(p.data));
      if (p.end) {
        out.push(encoder.end());
        encoder = new Base64Encoder();
      }
    } else if (p.kind === 'lines') {
      out.push(vouchCrlfLines(Buffer.from(p.text, 'latin1')));
    } else {
      out.push(Buffer.from(p.text, 'latin1'));
    }
  }
  return out;
}

function run(codec: DataCodec, buffers: Buffer[]): string {
  return Buffer.concat([...buffers.map((b) => codec.encode(b)), codec.end()]).toString('latin1');
}

describe('lib/stream: vouched CRLF lines (the mime module\'s base64) pass unscanned', () => {
  it('takes the voucher at its word: the bytes go out as they are', () => {
    // A broken promise, on purpose: the same bytes unvouched are scanned and their bare LF fixed.
    const vouched = vouchCrlfLines(Buffer.from('a\nb', 'latin1'));
    expect(new DataCodec().encode(vouched)).toBe(vouched);
    expect(new DataCodec().encode(Buffer.from('a\nb', 'latin1')).toString('latin1')).toBe('a\r\nb');
  });

  it('vouches for every chunk the base64 encoder writes, not for a copy of one', () => {
    const encoder = new Base64Encoder();
    const codec = new DataCodec();
    for (const written of [encoder.push(randomBytes(57 * 40 + 5)), encoder.end()]) {
      expect(written.length).toBeGreaterThan(0);
      const copy = Buffer.from(written);
      // A vouched chunk is not even looked at; the copy is scanned (and, being clean, passed as well).
      const vouchedScan = jest.spyOn(written, 'indexOf');
      const scan = jest.spyOn(copy, 'indexOf');
      expect(codec.encode(written)).toBe(written);
      expect(vouchedScan).not.toHaveBeenCalled();
      expect(new DataCodec().encode(copy)).toBe(copy);
      expect(scan).toHaveBeenCalled();
    }
  });

  it('stuffs a dot after vouched lines that end in CRLF, and not after ones that end inside a line', () => {
    const ended = new DataCodec();
    expect(run(ended, [vouchCrlfLines(Buffer.from('QUJD\r\n', 'latin1')), Buffer.from('.x')])).toBe('QUJD\r\n..x\r\n.\r\n');
    const open = new DataCodec();
    expect(run(open, [vouchCrlfLines(Buffer.from('QUJD\r\nQU', 'latin1')), Buffer.from('.x')])).toBe('QUJD\r\nQU.x\r\n.\r\n');
  });

  it('gives what the scan gives however vouched and other chunks are mixed, and counts the same (property)', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const buffers = buffersOf(pieces);
        const trusting = new DataCodec();
        const scanning = new DataCodec();
        const trusted = run(trusting, buffers);
        expect(trusted).toBe(run(scanning, buffers.map((b) => Buffer.from(b))));
        expect(trusting.contentLength).toBe(scanning.contentLength);
      }),
      { numRuns: 500 },
    );
  });
});
