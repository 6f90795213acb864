/**
 * mime::getproperty: a part's content type, declared encoding, parameters,
 * sub-parts and size.
 */
import { statSync } from 'node:fs';
import { MimeError } from '../lib/errors';
import { hasParts, type Part } from './part';
import { isEncodedBody } from './build/plan';
import { partOf, tokenForChild, type Token } from './tokens';

/** Every property of a part, as `getproperty(tok)` returns them. */
export interface Properties {
  content: string;
  encoding: string;
  params: Record<string, string>;
  size: number;
  parts?: Token[];
}

function fileSize(path: string, offset: number, length: number | undefined): number {
  if (length !== undefined) return length;
  try {
    return Math.max(0, statSync(path).size - offset);
  } catch (error) {
    throw new MimeError(`error reading "${path}": ${(error as Error).message}`, 'EFILE', { cause: error });
  }
}

/**
 * Tcllib's size: a canonical string's length in characters (octets for
 * bytes), a file's size, a parsed body's encoded length (times 3/4 for
 * base64), and for a multipart the sum of its parts.
 */
function sizeOf(part: Part): number {
  const body = part.body;
  switch (body.kind) {
    case 'parts':
      return body.parts.reduce((sum, child) => sum + sizeOf(child), 0);
    case 'string': {
      if (typeof body.data !== 'string') return body.data.length;
      let characters = 0;
      for (const _ of body.data) characters++;
      return characters;
    }
    case 'parsed':
    case 'file': {
      const length = body.kind === 'parsed' ? body.data.length : fileSize(body.path, body.offset ?? 0, body.length);
      return isEncodedBody(part) && part.encoding === 'base64' ? Math.floor((length * 3) / 4) : length;
    }
  }
}

function paramsOf(part: Part): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of part.params) {
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function partsOf(part: Part, token: Token): Token[] {
  if (!hasParts(part)) throw new MimeError('MIME part is a leaf');
  return part.body.parts.map((child, index) => tokenForChild(child, token, index));
}

/**
 * One property of a part, or all of them as an object when `property` is
 * absent (`parts` only for a part that has them). `-names` gives the names.
 *
 * Tcl: `mime::getproperty $tok content` / `mime::getproperty $tok`
 * TypeScript: `mime.getproperty(tok, 'content')` → `'text/plain'` / `mime.getproperty(tok)`
 *
 * @throws MimeError `MIME part is a leaf` (parts of a leaf), `unknown property <p>`.
 */
export function getproperty(token: Token): Properties;
export function getproperty(token: Token, property: 'content' | 'encoding'): string;
export function getproperty(token: Token, property: 'params'): Record<string, string>;
export function getproperty(token: Token, property: 'parts'): Token[];
export function getproperty(token: Token, property: 'size'): number;
export function getproperty(token: Token, property: '-names'): string[];
export function getproperty(token: Token, property: string): unknown;
export function getproperty(token: Token, property?: string): unknown {
  const part = partOf(token, 'mime.getproperty');
  switch (property) {
    case undefined: {
      const all: Properties = { content: part.content, encoding: part.encoding, params: paramsOf(part), size: sizeOf(part) };
      if (hasParts(part)) all.parts = partsOf(part, token);
      return all;
    }
    case '-names':
      return hasParts(part) ? ['content', 'encoding', 'params', 'parts'] : ['content', 'encoding', 'params'];
    case 'content':
      return part.content;
    case 'encoding':
      return part.encoding;
    case 'params':
      return paramsOf(part);
    case 'parts':
      return partsOf(part, token);
    case 'size':
      return sizeOf(part);
    default:
      throw new MimeError(`unknown property ${property}`);
  }
}
