/**
 * parseFile: the same tree as parseBuffer, with leaf bodies left in the file
 * as regions; windows of 64 KiB that cut delimiters and header blocks in two;
 * a large attachment parsed without holding it (a file round trip and a
 * parsed attachment).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MimeError } from '../../../lib/errors';
import { parseBuffer, parseFile } from '../../../mime/parse/message';
import type { Part } from '../../../mime/part';
import { allParts, bodyBytes, crlf, reassemble, shape } from './support';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-parse-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeMessage(name: string, data: Buffer | string): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** Bytes a parsed tree holds in memory (header blocks, preambles, delimiters, epilogues, in-memory bodies). */
function heldBytes(part: Part): number {
  return allParts(part).reduce((sum, each) => {
    const layout = each.rawLayout;
    let held = (layout?.header?.length ?? 0) + (each.preamble?.length ?? 0) + (each.epilogue?.length ?? 0);
    held += (layout?.delimiters ?? []).reduce((total, delimiter) => total + delimiter.length, 0);
    if (each.body.kind === 'parsed') held += each.body.data.length;
    return sum + held;
  }, 0);
}

const BUG_1825092 = `From sw@fooooooooo.de  Sat Oct 20 17:58:49 2007
Return-Path: <sw@fooooooooo.de>
Message-ID: <17849372.3849122@fooooooooo.de>
From: Somwhere <sw@fooooooooo.de>
MIME-Version: 1.0
To: Here <h@fooooooooo.de>
Subject: test
Content-Type: multipart/mixed;
 boundary="------------090305080603000703000106"

This is a multi-part message in MIME format.
--------------090305080603000703000106
Content-Type: text/plain; charset=ISO-8859-15
Content-Transfer-Encoding: 8bit

XXX

--------------090305080603000703000106
Content-Disposition: attachment;
 filename="a0036.dss"
Content-Transfer-Encoding: base64
Content-Type: application/octet-stream;
 name="a0036.dss"

BGRzcwEAAQABAAAAYQAAAAAAAAAAAAAAAAAAACQAAAD+//7/+/8wNzA2MTYwODE1MjQwNzA2
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAZ
--------------090305080603000703000106--
`;

describe('parseFile', () => {
  it('keeps the folded headers and the base64 body of a parsed attachment (Tcllib bug 1825092)', () => {
    const path = writeMessage('bug1825092.eml', BUG_1825092);
    const part = parseFile(path);
    expect(part.content).toBe('multipart/mixed');
    expect(part.preamble?.toString()).toBe('This is a multi-part message in MIME format.\n');
    const attachment = part.body.kind === 'parts' ? part.body.parts[1] : undefined;
    expect(attachment).toBeDefined();
    const child = attachment as Part;
    expect(child.content).toBe('application/octet-stream');
    expect(child.encoding).toBe('base64');
    expect(child.params.get('name')).toBe('a0036.dss');
    expect(child.headers[0].raw?.toString()).toBe('Content-Disposition: attachment;\n filename="a0036.dss"');
    expect(child.headers[0].value).toBe('attachment; filename="a0036.dss"');
    expect(child.rawLayout?.mimeFields['content-type']?.toString()).toBe('Content-Type: application/octet-stream;\n name="a0036.dss"');
    const offset = BUG_1825092.indexOf('BGRzcw');
    const length = BUG_1825092.indexOf('\n--------------090305080603000703000106--') - offset;
    expect(child.body).toEqual({ kind: 'file', path, offset, length, encoded: true });
    expect(bodyBytes(child.body).toString()).toBe(
      'BGRzcwEAAQABAAAAYQAAAAAAAAAAAAAAAAAAACQAAAD+//7/+/8wNzA2MTYwODE1MjQwNzA2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAZ',
    );
    expect(reassemble(part).toString()).toBe(BUG_1825092);
  });

  it('gives back a 35 KB text body exactly (Tcllib mime-9.0)', () => {
    const data = `${'123456789 '.repeat(10)}\n`.repeat(350);
    const path = writeMessage('35k.eml', `MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n${data}`);
    const part = parseFile(path);
    expect(part.body.kind).toBe('file');
    expect(bodyBytes(part.body).toString()).toBe(data);
    expect(reassemble(part)).toEqual(readFileSync(path));
  });

  it('builds the same tree as parseBuffer, with file regions holding the same bytes', () => {
    const text = crlf(
      'Content-Type: multipart/mixed; boundary=b\n\npre\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--b \nContent-Type: text/plain\n\nplain\n--b--\nepi\n',
    );
    const path = writeMessage('same.eml', text);
    const fromFile = parseFile(path);
    const fromBuffer = parseBuffer(Buffer.from(text));
    expect(shape(fromFile)).toEqual(shape(fromBuffer));
    expect(allParts(fromFile).filter((each) => each.body.kind === 'file').length).toBe(2);
    expect(reassemble(fromFile).toString()).toBe(text);
  });

  it('finds delimiters and header ends that straddle its 64 KiB read windows', () => {
    // Parts of awkward sizes put delimiters, CRLF pairs and header blocks across every window edge.
    const pieces = ['Content-Type: multipart/mixed; boundary="=_edge"\r\n\r\n'];
    const bodies: string[] = [];
    for (let i = 0; i < 40; i++) {
      const body = String.fromCharCode(97 + (i % 26)).repeat(6553 * (i % 7) + 13 * i + 1);
      bodies.push(body);
      pieces.push(`--=_edge\r\nX-Index: ${i}\r\nX-Filler: ${'f'.repeat((i * 977) % 3000)}\r\n\r\n${body}\r\n`);
    }
    pieces.push('--=_edge--\r\n');
    const text = pieces.join('');
    const path = writeMessage('edges.eml', text);
    const part = parseFile(path);
    expect(shape(part)).toEqual(shape(parseBuffer(Buffer.from(text))));
    expect(shape(part).parts?.map((child) => child.body)).toEqual(bodies);
    expect(part.defects).toEqual([]);
  });

  it('gets every alignment of a delimiter and of an empty line around 16 and 64 KiB right', () => {
    for (let filler = 65515; filler <= 65545; filler++) {
      const body = 'z'.repeat(filler);
      const text = `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n${body}\r\n--b\r\n\r\nx\r\n--b--\r\n`;
      const part = parseFile(writeMessage('align.eml', text));
      expect(shape(part).parts?.map((child) => child.body)).toEqual([body, 'x']);
    }
    for (const size of [16370, 16383, 16384, 16385, 16390, 65530, 65536, 65540, 70000]) {
      const field = `X-Long: ${'h'.repeat(size - 10)}`;
      const text = `${field}\r\n\r\nbody`;
      const part = parseFile(writeMessage('align.eml', text));
      expect(part.headers.map((each) => each.raw?.toString())).toEqual([field]);
      expect(bodyBytes(part.body).toString()).toBe('body');
    }
  });

  it('parses an LF-only file as it parses the CRLF one', () => {
    const lf = 'Subject: lf\nContent-Type: multipart/alternative; boundary=alt\n\n--alt\nContent-Type: text/plain\n\nplain\n--alt\nContent-Type: text/html\n\n<p>html</p>\n--alt--\n';
    const fromLf = parseFile(writeMessage('lf.eml', lf));
    const fromCrlf = parseFile(writeMessage('crlf.eml', crlf(lf)));
    expect(shape(fromLf)).toEqual(shape(fromCrlf));
    expect(fromLf.rawLayout?.eol).toBe('\n');
    expect(fromCrlf.rawLayout?.eol).toBe('\r\n');
  });

  it('parses a 50 MB attachment without holding it, and points at its exact offset', () => {
    const path = join(dir, 'big.eml');
    const head = 'From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_big"\r\n\r\n--=_big\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--=_big\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n';
    const line = `${Buffer.alloc(57, 0xa5).toString('base64')}\r\n`;
    const block = Buffer.from(line.repeat(16384)); // about 1.2 MB of base64 lines
    const blocks = Math.ceil((50 * 1024 * 1024) / block.length);
    const tail = '\r\n--=_big--\r\n';
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, head);
      for (let i = 0; i < blocks; i++) writeSync(fd, block);
      writeSync(fd, tail);
    } finally {
      closeSync(fd);
    }

    const before = process.memoryUsage().heapUsed;
    const part = parseFile(path);
    const grown = process.memoryUsage().heapUsed - before;

    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(heldBytes(part)).toBeLessThan(4096);
    const attachment = part.body.kind === 'parts' ? part.body.parts[1] : undefined;
    expect(attachment?.body).toEqual({ kind: 'file', path, offset: Buffer.byteLength(head), length: block.length * blocks, encoded: true });
    expect(part.defects).toEqual([]);
    rmSync(path);
  });

  it('keeps a multipart whose epilogue passes the memory budget as one leaf', () => {
    const text = `Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n${'e'.repeat(10000)}`;
    const path = writeMessage('budget.eml', text);
    const part = parseFile(path, { maxHeldBytes: 5000 });
    expect(part.body).toEqual({ kind: 'file', path, offset: text.indexOf('--b'), length: text.length - text.indexOf('--b'), encoded: true });
    expect(part.defects).toEqual(['preamble, delimiters and epilogue of multipart/mixed pass the memory budget: the body is kept as one leaf']);
    expect(reassemble(part).toString()).toBe(text);
  });

  it('throws a MimeError with code EFILE for a missing file', () => {
    const missing = join(dir, 'no-such-file.eml');
    expect(() => parseFile(missing)).toThrow(MimeError);
    expect(() => parseFile(missing)).toThrow(expect.objectContaining({ code: 'EFILE', message: expect.stringContaining('no-such-file.eml') }));
  });
});
