/**
 * The body codec hands on clean input as it is: lines that already end in
 * CRLF and need no stuffing are not copied (base64 attachments are all such
 * lines). Only bare line ends and leading dots split the output, and the
 * output is still exactly what the line-by-line rules give.
 */
import { randomBytes } from 'node:crypto';
import { DataCodec } from '../../lib/stream';

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
