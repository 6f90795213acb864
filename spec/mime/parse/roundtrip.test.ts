/**
 * Property tests (fast-check): whatever the input, the parser keeps every
 * byte (the parts put back together give the input again) and never throws;
 * a generated message tree parses back to the tree it was written from; and
 * parseFile agrees with parseBuffer.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBuffer, parseFile } from '../../../mime/parse/message';
import { allParts, reassemble, shape, type Shape } from './support';

// Lines that make structure likely: MIME fields, delimiters, empty lines, folding, stray colons.
const PIECES = [
  'Content-Type: multipart/mixed; boundary=b',
  'Content-Type: multipart/digest; boundary="b"',
  'Content-Type: message/rfc822',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Type: bogus',
  'Content-Transfer-Encoding: base64',
  'Content-Transfer-Encoding: quoted-printable',
  'MIME-Version: 1.0',
  'Subject: =?utf-8?Q?caf=C3=A9?=',
  'From sender Mon',
  'X: y',
  ' folded',
  '--b',
  '--b--',
  '--b ',
  '',
  '',
  ':',
  '=',
  '=0A',
  'U3ViamVjdDogaGkKCmJvZHk=',
  'abc',
  '\u00e9',
  '\xff',
];
const line = fc.tuple(
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PIECES) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) }),
  fc.constantFrom('\r\n', '\r\n', '\n', '\n', '', '\r'),
);
// Most inputs open as a multipart, so that the lines after it exercise splitting and nesting.
const opening = fc.constantFrom('', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n', 'Content-Type: multipart/mixed; boundary=b\n\n--b\n', 'Content-Type: message/rfc822\n\n');
const soup = fc
  .tuple(opening, fc.array(line, { maxLength: 40 }))
  .map(([start, lines]) => Buffer.from(start + lines.map(([text, eol]) => text + eol).join(''), 'latin1'));

describe('parse round trip', () => {
  it('gives back every byte of any input and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(soup, fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes))), (data) => {
        const part = parseBuffer(data);
        expect(reassemble(part).equals(data)).toBe(true);
        expect(allParts(part).every((each) => each.parsed && each.rawLayout !== undefined)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with parseBuffer when reading the same bytes from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tclmail-parse-prop-'));
    try {
      const path = join(dir, 'message.eml');
      fc.assert(
        fc.property(soup, (data) => {
          writeFileSync(path, data);
          const fromFile = parseFile(path);
          expect(shape(fromFile)).toEqual(shape(parseBuffer(data)));
          expect(reassemble(fromFile).equals(data)).toBe(true);
        }),
        { numRuns: 300 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A message tree, written out with one line break style, parses back to the same tree.
  interface Leaf {
    headers: Array<[string, string]>;
    body: string;
  }
  interface Multi {
    boundary: string;
    headers: Array<[string, string]>;
    preamble: string;
    parts: Tree[];
    epilogue: string;
  }
  type Tree = Leaf | Multi;

  const name = fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
  const text = fc.stringMatching(/^[a-z .,!?0-9]{0,40}$/);
  const lines = fc.array(text, { maxLength: 4 });
  const { tree } = fc.letrec<{ tree: Tree; leaf: Leaf; multi: Multi }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('multi')),
    leaf: fc.record({ headers: fc.array(fc.tuple(name, value), { maxLength: 4 }), body: lines.map((each) => each.join('\n')) }),
    multi: fc.record({
      boundary: fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,30}$/).map((b) => `=_${b}`),
      headers: fc.array(fc.tuple(name, value), { maxLength: 2 }),
      preamble: lines.map((each) => each.join('\n')),
      parts: fc.array(tie('tree'), { minLength: 1, maxLength: 4 }),
      epilogue: lines.map((each) => each.join('\n')),
    }),
  }));

  // The path of a multipart in the tree goes into its boundary, so that nested boundaries differ (RFC 2046 section 5.1.2).
  const boundaryOf = (node: Multi, path: string): string => `${node.boundary}.${path}`;

  function write(node: Tree, eol: string, path = '0'): string {
    const fields = node.headers.map(([key, text]) => `${key}: ${text.replace(/ /g, `${eol} `)}`);
    if ('boundary' in node) {
      const boundary = boundaryOf(node, path);
      fields.push(`Content-Type: multipart/mixed;${eol} boundary="${boundary}"`);
      const children = node.parts.map((child, index) => `--${boundary}${eol}${write(child, eol, `${path}.${index}`)}${eol}`).join('');
      const preamble = node.preamble === '' ? '' : `${node.preamble.replace(/\n/g, eol)}${eol}`;
      return `${fields.join(eol)}${eol}${eol}${preamble}${children}--${boundary}--${eol}${node.epilogue.replace(/\n/g, eol)}`;
    }
    fields.push('Content-Type: text/plain');
    return `${fields.join(eol)}${eol}${eol}${node.body.replace(/\n/g, eol)}`;
  }

  function expected(node: Tree, eol: string, path = '0'): Shape {
    const headers = node.headers.length > 0 ? { headers: node.headers.map(([key, text]): [string, string] => [key, text.replace(/ /g, `${eol} `).replace(/\r?\n/g, '')]) } : {};
    if ('boundary' in node) {
      const parts = node.parts.map((child, index) => expected(child, eol, `${path}.${index}`));
      return { content: 'multipart/mixed', params: { boundary: boundaryOf(node, path) }, ...headers, parts };
    }
    return { content: 'text/plain', ...headers, body: node.body.replace(/\n/g, eol) };
  }

  it('parses a generated message tree back to that tree', () => {
    fc.assert(
      fc.property(tree, fc.constantFrom('\r\n', '\n'), (node, eol) => {
        const data = Buffer.from(write(node, eol));
        const part = parseBuffer(data);
        expect(shape(part)).toEqual(expected(node, eol));
        expect(reassemble(part).equals(data)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
