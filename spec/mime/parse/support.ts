/**
 * Helpers for the parser's tests: put a parsed tree back together from what
 * the parser recorded (proving nothing was lost), and show a tree as plain
 * data that a test can compare.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { BodySource, Part } from '../../../mime/part';

/** The bytes of a leaf body source (parsed data, or a region of a file). */
export function bodyBytes(body: BodySource): Buffer {
  switch (body.kind) {
    case 'parsed':
      return body.data;
    case 'string':
      return Buffer.isBuffer(body.data) ? body.data : Buffer.from(body.data);
    case 'file': {
      const length = body.length ?? 0;
      const out = Buffer.alloc(length);
      const fd = openSync(body.path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const n = readSync(fd, out, done, length - done, (body.offset ?? 0) + done);
          if (n === 0) throw new Error(`short read in ${body.path}`);
          done += n;
        }
      } finally {
        closeSync(fd);
      }
      return out;
    }
    case 'parts':
      throw new Error('a multipart has no leaf body');
  }
}

/** The message bytes again, from the raw header block, delimiters, preamble, epilogue and bodies alone. */
export function reassemble(part: Part): Buffer {
  const layout = part.rawLayout;
  if (layout?.header === undefined) throw new Error('part has no raw header block');
  const pieces: Buffer[] = [layout.header];
  if (part.rawBody !== undefined) {
    pieces.push(bodyBytes(part.rawBody));
  } else if (part.body.kind === 'parts') {
    if (part.content.startsWith('multipart/')) {
      const delimiters = layout.delimiters ?? [];
      if (part.preamble) pieces.push(part.preamble);
      part.body.parts.forEach((child, index) => pieces.push(delimiters[index], reassemble(child)));
      if (delimiters.length > part.body.parts.length) pieces.push(delimiters[part.body.parts.length]);
      if (part.epilogue) pieces.push(part.epilogue);
    } else {
      pieces.push(reassemble(part.body.parts[0]));
    }
  } else {
    pieces.push(bodyBytes(part.body));
  }
  return Buffer.concat(pieces);
}

export interface Shape {
  content: string;
  params?: Record<string, string>;
  encoding?: string;
  headers?: Array<[string, string]>;
  body?: string;
  parts?: Shape[];
  defects?: string[];
}

/** A parsed tree as plain data: types, params, headers, leaf bodies (latin1 text) and defects; empty lists left out. */
export function shape(part: Part): Shape {
  const out: Shape = { content: part.content };
  if (part.params.size > 0) out.params = Object.fromEntries(part.params);
  if (part.encoding !== '') out.encoding = part.encoding;
  if (part.headers.length > 0) out.headers = part.headers.map((field) => [field.name, field.value]);
  if (part.body.kind === 'parts') out.parts = part.body.parts.map(shape);
  else out.body = bodyBytes(part.body).toString('latin1');
  if (part.defects.length > 0) out.defects = part.defects;
  return out;
}

/** Every part of a tree, depth first. */
export function allParts(part: Part): Part[] {
  return part.body.kind === 'parts' ? [part, ...part.body.parts.flatMap(allParts)] : [part];
}

/** A message text with LF line ends turned into CRLF. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
