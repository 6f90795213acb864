/**
 * The incremental encoders and the body scanner behind the builder: the same
 * output however the input is cut into chunks, output that an independent
 * decoder (libqp, Node's base64) reads back, and the line rules of RFC 2045.
 */
import fc from 'fast-check';
import libqp from 'libqp';
import { BodyScanner, type BodyStats, type Transfer } from '../../../mime/codec/encoding';
import { base64Length, encoderFor } from '../../../mime/codec/encoders';

/** A whole body through one encoder, in one chunk. */
function encodeAll(transfer: Transfer, data: Buffer): Buffer {
  const encoder = encoderFor(transfer);
  return Buffer.concat([encoder.push(data), encoder.end()]);
}

/** A whole body through the scanner, in one chunk. */
function scanBody(data: Buffer, text: boolean): BodyStats {
  const scanner = new BodyScanner(text);
  scanner.update(data);
  return scanner.finish();
}

function encodeInChunks(transfer: Transfer, data: Buffer, cuts: number[]): Buffer {
  const encoder = encoderFor(transfer);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const at = Math.min(cut, data.length);
    out.push(encoder.push(data.subarray(from, at)));
    from = Math.max(from, at);
  }
  out.push(encoder.push(data.subarray(from)), encoder.end());
  return Buffer.concat(out);
}

const bytes = fc.uint8Array({ maxLength: 500 }).map((array) => Buffer.from(array));
// Text-like bytes: many line breaks, blanks, dots and "From " to hit the special cases.
const textish = fc
  .array(fc.constantFrom('a', 'b', ' ', '\t', '\r', '\n', '\r\n', '.', '-', 'From ', '=', 'é', '\x00', 'x'.repeat(80)), { maxLength: 120 })
  .map((pieces) => Buffer.from(pieces.join(''), 'utf8'));
const cuts = fc.array(fc.nat({ max: 600 }), { maxLength: 8 });

describe('encoders give the same bytes however the input is cut', () => {
  it.each(['identity', 'lines', 'qp-text', 'qp-binary', 'base64', 'base64-text'] as Transfer[])('%s', (transfer) => {
    fc.assert(
      fc.property(fc.oneof(bytes, textish), cuts, (data, at) => {
        expect(encodeInChunks(transfer, data, at).equals(encodeAll(transfer, data))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('quoted-printable', () => {
  const lines = (encoded: Buffer): string[] => encoded.toString('latin1').split('\r\n');

  it('in binary mode reads back exactly, in lines of at most 76, never bare CR or LF', () => {
    fc.assert(
      fc.property(fc.oneof(bytes, textish), (data) => {
        const encoded = encodeAll('qp-binary', data);
        expect(libqp.decode(encoded.toString('latin1')).equals(data)).toBe(true);
        for (const line of lines(encoded)) {
          expect(line.length).toBeLessThanOrEqual(76);
          expect(line).not.toMatch(/[\r\n]/);
          expect(line).not.toMatch(/[ \t]$/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('in text mode reads back as the canonical text (LF alone becomes CRLF)', () => {
    fc.assert(
      fc.property(textish, (data) => {
        const encoded = encodeAll('qp-text', data);
        const canonical = Buffer.from(data.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
        expect(libqp.decode(encoded.toString('latin1')).equals(canonical)).toBe(true);
        for (const line of lines(encoded)) expect(line.length).toBeLessThanOrEqual(76);
      }),
      { numRuns: 300 },
    );
  });

  it('protects a line start that a transport or reader could take for something else', () => {
    expect(encodeAll('qp-text', Buffer.from('.\nFrom me\n--b\nok')).toString()).toBe('=2E\r\n=46rom me\r\n=2D-b\r\nok');
  });

  it('escapes white space at a line end and at the very end, and a CR alone', () => {
    expect(encodeAll('qp-text', Buffer.from('a \nb\t')).toString()).toBe('a=20\r\nb=09');
    expect(encodeAll('qp-text', Buffer.from('a\rb')).toString()).toBe('a=0Db');
  });

  it('breaks long lines softly without splitting an escape', () => {
    const encoded = encodeAll('qp-text', Buffer.from('é'.repeat(60))).toString();
    for (const line of encoded.split('\r\n')) {
      expect(line.length).toBeLessThanOrEqual(76);
      expect(line).toMatch(/^(=[0-9A-F]{2})*=?$/);
    }
  });
});

describe('base64', () => {
  it('is Node\'s base64 in lines of 76 joined by CRLF, and base64Length predicts its length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (array) => {
        const data = Buffer.from(array);
        const encoded = encodeAll('base64', data).toString('latin1');
        expect(encoded.replace(/\r\n/g, '')).toBe(data.toString('base64'));
        const parts = encoded.split('\r\n');
        parts.slice(0, -1).forEach((line) => expect(line).toHaveLength(76));
        expect(encoded.length).toBe(base64Length(data.length));
      }),
    );
  });

  it('fed in pieces of any size, is Node\'s base64 of the whole wrapped at 76, each piece\'s output kept intact', () => {
    const wrap = (text: string): string => (text.match(/.{1,76}/g) ?? []).join('\r\n');
    // Small pieces (0-4 octets) as well as large ones, so that the 0-2 octets carried between pushes are exercised.
    const pieces = fc.array(fc.oneof(fc.nat({ max: 4 }), fc.nat({ max: 300 })), { maxLength: 40 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), pieces, (array, sizes) => {
        const data = Buffer.from(array);
        const encoder = encoderFor('base64');
        const outputs: Buffer[] = [];
        let from = 0;
        for (const size of sizes) {
          const to = Math.min(data.length, from + size);
          // A copy that is then spoiled: the encoder may not keep a reference to what it was given.
          const piece = Buffer.from(data.subarray(from, to));
          outputs.push(encoder.push(piece));
          piece.fill(0x21);
          from = to;
        }
        outputs.push(encoder.push(Buffer.from(data.subarray(from))), encoder.end());
        const snapshot = outputs.map((output) => Buffer.from(output));
        expect(Buffer.concat(outputs).toString('latin1')).toBe(wrap(data.toString('base64')));
        outputs.forEach((output, i) => expect(output.equals(snapshot[i])).toBe(true));
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * The scanner's rules read one octet at a time, with nothing skipped: what the
 * fast scanner (line breaks by indexOf, plain text vouched four octets at a
 * time) must agree with.
 */
function scanOctetByOctet(data: Buffer, text: boolean): BodyStats {
  const stats: BodyStats = {
    total: 0, eightBit: 0, nul: false, controls: false, bareCR: false, bareLF: false,
    longestLine: 0, trailingSpace: false, dotOrFrom: false, escapes: 0,
  };
  let length = 0;
  let last = -1;
  let line = '';
  const endLine = (): void => {
    if (length > 0 && (last === 0x20 || last === 0x09)) stats.trailingSpace = true;
    if (line.startsWith('.') || line.startsWith('From ')) stats.dotOrFrom = true;
    stats.longestLine = Math.max(stats.longestLine, length);
    length = 0;
    last = -1;
    line = '';
  };
  const octet = (byte: number): void => {
    length++;
    last = byte;
    if (line.length < 5) line += String.fromCharCode(byte);
    if (byte >= 0x80) stats.eightBit++;
    else if (byte === 0) stats.nul = true;
    else if (byte === 0x0d) stats.bareCR = true;
    else if (byte !== 0x3d && !((byte < 0x20 && byte !== 0x09) || byte === 0x7f)) return;
    else if (byte !== 0x3d) stats.controls = true;
    stats.escapes++;
  };
  stats.total = data.length;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte === 0x0d && data[i + 1] === 0x0a) {
      endLine();
      i++;
    } else if (byte === 0x0a) {
      stats.bareLF = true;
      if (text) stats.total++;
      endLine();
    } else octet(byte);
  }
  endLine();
  return stats;
}

// Mostly plain text with the octets every rule looks at, so that they fall at chunk and word boundaries alike.
const mixed = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('plain text ', 'x'.repeat(40), 'y'.repeat(75), 'z'.repeat(77), '\r\n') },
      { weight: 4, arbitrary: fc.constantFrom('\r', '\n', '\r\r\n', '.', 'From ', 'Fro', 'm ', ' ', '\t', '=', '\x00', '\x01', '\x0b', '\x1f', '\x7f', '\x80', '\xff', 'é') },
    ),
    { maxLength: 200 },
  )
  .map((pieces) => Buffer.from(pieces.join(''), 'latin1'));

describe('the body scanner', () => {
  it('finds the same facts however the body is cut', () => {
    fc.assert(
      fc.property(textish, cuts, fc.boolean(), (data, at, text) => {
        const scanner = new BodyScanner(text);
        let from = 0;
        for (const cut of [...at].sort((a, b) => a - b)) {
          scanner.update(data.subarray(from, Math.max(from, Math.min(cut, data.length))));
          from = Math.max(from, Math.min(cut, data.length));
        }
        scanner.update(data.subarray(from));
        expect(scanner.finish()).toEqual(scanBody(data, text));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with a reading of every octet, however the body is cut and wherever it starts in memory', () => {
    fc.assert(
      fc.property(fc.oneof(mixed, textish, bytes), cuts, fc.boolean(), fc.nat({ max: 7 }), (data, at, text, shift) => {
        // A copy at `shift` octets into a larger Buffer: the word-at-a-time pass must not depend on alignment.
        const room = Buffer.alloc(data.length + 8, 0x41);
        data.copy(room, shift);
        const moved = room.subarray(shift, shift + data.length);
        const scanner = new BodyScanner(text);
        let from = 0;
        for (const cut of [...at].sort((a, b) => a - b)) {
          const to = Math.max(from, Math.min(cut, moved.length));
          scanner.update(moved.subarray(from, to));
          from = to;
        }
        scanner.update(moved.subarray(from));
        expect(scanner.finish()).toEqual(scanOctetByOctet(data, text));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds each fact of a long plain text that breaks it only once, past the first words', () => {
    const plain = Buffer.from(('x'.repeat(70) + '\r\n').repeat(25), 'latin1');
    expect(scanBody(plain, true)).toEqual(scanOctetByOctet(plain, true));
    for (const odd of ['\x00', '\x01', '\x7f', '\x80', '=', '\r', '\n', ' \r\n', '.', 'From ']) {
      for (const at of [0, 1, 2, 3, 100, 1000, plain.length - 3]) {
        const data = Buffer.concat([plain.subarray(0, at), Buffer.from(odd, 'latin1'), plain.subarray(at)]);
        const stats = scanBody(data, true);
        expect(stats).toEqual(scanOctetByOctet(data, true));
        expect(stats).not.toEqual(scanBody(plain, true));
      }
    }
  });

  it('measures lines in octets, counting LF as CRLF in text', () => {
    const stats = scanBody(Buffer.from('ab\ncdef\r\n.x\rFrom y '), true);
    // 19 octets and one LF that goes out as CRLF; the longest line is ".x\rFrom y " (a CR alone is data).
    expect(stats).toEqual({
      total: 20, eightBit: 0, nul: false, controls: false, bareCR: true, bareLF: true,
      longestLine: 10, trailingSpace: true, dotOrFrom: true, escapes: 1,
    });
    expect(scanBody(Buffer.from('From'), true).dotOrFrom).toBe(false);
  });
});
