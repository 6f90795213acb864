/**
 * Parser bombs and algorithmic traps (docs/security.md, A9, A11): deep nesting, a
 * host of tiny parts, endless header blocks, and inputs that would make a
 * backtracking or rescanning parser slow. Each must end in a bounded tree with
 * defects, and must still give back every byte.
 */
import { parseBuffer } from '../../../mime/parse/message';
import { PARSE_LIMITS } from '../../../mime/parse/limits';
import type { Part } from '../../../mime/part';
import { allParts, bodyBytes, reassemble } from './support';

function depthOf(part: Part): number {
  return part.body.kind === 'parts' ? 1 + Math.max(...part.body.parts.map(depthOf)) : 0;
}

describe('parse limits', () => {
  it('keeps a multipart nested 1,000 deep as a leaf below 50 levels', () => {
    let text = 'innermost';
    for (let level = 999; level >= 0; level--) {
      text = `Content-Type: multipart/mixed; boundary=b${level}\n\n--b${level}\n${text}\n--b${level}--\n`;
    }
    const data = Buffer.from(text);
    const part = parseBuffer(data);
    expect(depthOf(part)).toBe(PARSE_LIMITS.maxDepth);
    const deepest = allParts(part).filter((each) => each.defects.length > 0);
    expect(deepest).toHaveLength(1);
    expect(deepest[0].defects).toEqual([`multipart/mixed nested deeper than ${PARSE_LIMITS.maxDepth} levels: the body is kept as one leaf`]);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('keeps message/rfc822 nested 5,000 deep as a leaf below 50 levels', () => {
    const data = Buffer.from(`${'Content-Type: message/rfc822\n\n'.repeat(5000)}hello`);
    const part = parseBuffer(data);
    expect(depthOf(part)).toBe(PARSE_LIMITS.maxDepth);
    expect(allParts(part).flatMap((each) => each.defects)).toEqual([`message/rfc822 nested deeper than ${PARSE_LIMITS.maxDepth} levels: the body is kept as one leaf`]);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('keeps a multipart of 20,000 tiny parts as one leaf', () => {
    const data = Buffer.from(`Content-Type: multipart/mixed; boundary=b\n\n${'--b\n\nx\n'.repeat(20000)}--b--\n`);
    const part = parseBuffer(data);
    expect(part.body.kind).toBe('parsed');
    expect(part.defects).toEqual([`multipart/mixed holds more parts than the limit of ${PARSE_LIMITS.maxParts} per message: the body is kept as one leaf`]);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('splits 9,000 tiny parts, then counts them against the next multipart of the same message', () => {
    const inner = (count: number) => `Content-Type: multipart/mixed; boundary=i\n\n${'--i\n\nx\n'.repeat(count)}--i--`;
    const data = Buffer.from(`Content-Type: multipart/mixed; boundary=o\n\n--o\n${inner(9000)}\n--o\n${inner(2000)}\n--o--\n`);
    const part = parseBuffer(data);
    const [first, second] = part.body.kind === 'parts' ? part.body.parts : [];
    expect(first.body.kind === 'parts' && first.body.parts.length).toBe(9000);
    expect(second.body.kind).toBe('parsed');
    expect(second.defects[0]).toMatch(/holds more parts than the limit/);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('takes the rest of a header block longer than 1 MiB as the body', () => {
    const data = Buffer.from(`Subject: ok\nX-Huge: ${'h'.repeat(2 * 1024 * 1024)}\n\nbody`);
    const part = parseBuffer(data);
    expect(part.headers.map((field) => field.name)).toEqual(['Subject']);
    expect(part.defects).toEqual([`header block longer than ${PARSE_LIMITS.maxHeaderBlock} bytes: the rest is taken as the body`]);
    expect(bodyBytes(part.body).length).toBe(data.length - 'Subject: ok\n'.length);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('stops creating header fields at the limit for the whole message', () => {
    const data = Buffer.from(`Content-Type: multipart/mixed; boundary=b\n${'X: y\n'.repeat(6)}\n--b\n${'Y: z\n'.repeat(6)}\nbody\n--b--\n`);
    const part = parseBuffer(data, { maxFields: 10 });
    const child = part.body.kind === 'parts' ? part.body.parts[0] : undefined;
    expect(part.headers).toHaveLength(6);
    expect(child?.headers).toHaveLength(3);
    expect(child?.defects).toEqual(['too many header fields in this message: the rest is taken as the body']);
    expect(reassemble(part).equals(data)).toBe(true);
  });

  it('keeps a multipart with a boundary longer than the limit as a leaf', () => {
    const boundary = 'b'.repeat(PARSE_LIMITS.maxBoundary + 1);
    const part = parseBuffer(Buffer.from(`Content-Type: multipart/mixed; boundary=${boundary}\n\n--${boundary}\n\nx\n--${boundary}--\n`));
    expect(part.body.kind).toBe('parsed');
    expect(part.defects).toEqual([`boundary of multipart/mixed is longer than ${PARSE_LIMITS.maxBoundary} characters: the body is kept as one leaf`]);
  });

  // No time is asserted: a quadratic or backtracking parser would run for hours on these and time out.
  it('stays linear on inputs built to make a parser rescan', () => {
    const near = Buffer.from(`Content-Type: multipart/mixed; boundary=b\n\n--b\n\n${'\n--bx'.repeat(300000)}\n--b ${' '.repeat(500000)}x\n--b--\n`);
    const part = parseBuffer(near);
    expect(part.body.kind === 'parts' && part.body.parts.length).toBe(1);

    const parens = parseBuffer(Buffer.from(`Content-Type: text/plain; name=${'('.repeat(300000)}\n\nx`));
    expect(parens.content).toBe('text/plain');

    const folds = parseBuffer(Buffer.from(`Subject: a${'\n b'.repeat(200000)}\n\nx`));
    expect(folds.headers[0].value.length).toBe(1 + 2 * 200000);

    const colons = parseBuffer(Buffer.from(`${'X:'.repeat(400000)}\n\nx`));
    expect(colons.headers).toHaveLength(1);

    const qp = parseBuffer(Buffer.from(`Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n${'= '.repeat(300000)}\n`));
    expect(qp.body.kind).toBe('parts');
  });
});
