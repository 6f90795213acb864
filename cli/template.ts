/**
 * The message template of `tclmail bulk`: an `.eml` file (parsed by the mime
 * module) or a JSON description, with `{{field}}` placeholders in header
 * values and text bodies. The template is read once into a plain tree; each
 * recipient gets a fresh token built from it through mime.initialize and
 * mime.setheader, so a value is only ever data: one holding CR or LF cannot
 * start a header field, because the mime layer refuses it.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import * as mime from '../mime';
import { UsageError } from './args';
import { releaseAll, requireReadableFile } from './compose';
import { contentTypeOf } from './content-types';
import { substituteField } from './template-params';

type Token = mime.Token;

type Body = { kind: 'text'; text: string; html: boolean } | { kind: 'bytes'; data: Buffer } | { kind: 'parts'; parts: TemplatePart[] };

/** One part of the template. */
export interface TemplatePart {
  content: string;
  params: Array<[string, string]>;
  /** The transfer encoding to keep for a body that is not substituted ('' lets the builder choose). */
  encoding: string;
  headers: Array<[string, string]>;
  body: Body;
}

export interface Template {
  root: TemplatePart;
  /** Every placeholder name the template uses. */
  fields: Set<string>;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const ENCODINGS = new Set(['7bit', '8bit', 'binary', 'quoted-printable', 'base64']);

function collect(text: string, into: Set<string>): void {
  for (const match of text.matchAll(PLACEHOLDER)) into.add(match[1]);
}

/** The placeholders of `text` replaced by the row's values (`escape` applied to each value). */
export function substitute(text: string, values: Readonly<Record<string, string>>, escape: (value: string) => string = (v) => v): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : escape(value);
  });
}

// A value in HTML is text, not markup.
function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fieldsOf(part: TemplatePart, into: Set<string>): void {
  for (const [, value] of part.headers) collect(value, into);
  if (part.body.kind === 'text') collect(part.body.text, into);
  if (part.body.kind === 'parts') for (const child of part.body.parts) fieldsOf(child, into);
}

function isAttachment(headers: Array<[string, string]>): boolean {
  return headers.some(([name, value]) => name.toLowerCase() === 'content-disposition' && /^\s*attachment/i.test(value));
}

/** The template tree of a parsed part (recursively). */
function fromToken(token: Token): TemplatePart {
  const content = mime.getproperty(token, 'content');
  const params = Object.entries(mime.getproperty(token, 'params')).filter(([name]) => name.toLowerCase() !== 'boundary');
  const encoding = mime.getproperty(token, 'encoding').toLowerCase();
  const headers: Array<[string, string]> = [];
  for (const name of mime.getheader(token, '-names')) {
    // Encoded words are decoded so that a placeholder inside one is seen; the builder encodes again as needed.
    for (const value of mime.getheader(token, name)) headers.push([name, value.includes('=?') ? mime.field_decode(value) : value]);
  }
  let body: Body;
  if (content.startsWith('multipart/') || content.startsWith('message/')) {
    body = { kind: 'parts', parts: mime.getproperty(token, 'parts').map(fromToken) };
  } else if (content.startsWith('text/') && !isAttachment(headers)) {
    body = { kind: 'text', text: String(mime.getbody(token, { decode: true })), html: content === 'text/html' };
  } else {
    const data = mime.getbody(token);
    body = { kind: 'bytes', data: typeof data === 'string' ? Buffer.from(data, 'latin1') : data };
  }
  return { content, params, encoding: ENCODINGS.has(encoding) ? encoding : '', headers, body };
}

// Each recipient's message is a message of its own: sendmessage gives it a fresh Message-ID and Date.
const PER_MESSAGE = new Set(['message-id', 'date']);

function readEml(path: string): TemplatePart {
  const token = mime.initialize({ file: path });
  try {
    const root = fromToken(token);
    root.headers = root.headers.filter(([name]) => !PER_MESSAGE.has(name.toLowerCase()));
    return root;
  } finally {
    mime.finalize(token, { subordinates: 'all' });
  }
}

interface Description {
  from?: unknown;
  to?: unknown;
  subject?: unknown;
  text?: unknown;
  html?: unknown;
  attachments?: unknown;
  headers?: unknown;
}

function stringField(path: string, description: Description, name: keyof Description): string | undefined {
  const value = description[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`${path}: "${name}" must be a string`);
  return value;
}

function headerPairs(path: string, value: unknown): Array<[string, string]> {
  if (value === undefined) return [];
  const entries = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.entries(value) : null;
  const pairs = entries?.map((entry: unknown) => (Array.isArray(entry) && entry.length === 2 && entry.every((v) => typeof v === 'string') ? (entry as [string, string]) : null));
  if (!pairs || pairs.some((pair) => pair === null)) throw new UsageError(`${path}: "headers" must be an object of strings or a list of [name, value] pairs`);
  return pairs as Array<[string, string]>;
}

function readDescription(path: string): TemplatePart {
  let description: Description;
  try {
    description = JSON.parse(readFileSync(path, 'utf8')) as Description;
  } catch (error) {
    throw new UsageError(`${path}: not JSON: ${(error as Error).message}`);
  }
  if (typeof description !== 'object' || description === null || Array.isArray(description)) throw new UsageError(`${path}: expected a JSON object`);
  const known = new Set(['from', 'to', 'subject', 'text', 'html', 'attachments', 'headers']);
  const unknown = Object.keys(description).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new UsageError(`${path}: unknown field ${JSON.stringify(unknown[0])} (known: ${[...known].join(', ')})`);
  const text = stringField(path, description, 'text');
  if (text === undefined) throw new UsageError(`${path}: "text" (the plain-text body) is required`);
  const html = stringField(path, description, 'html');
  const attachments = description.attachments ?? [];
  if (!Array.isArray(attachments) || attachments.some((a) => typeof a !== 'string')) throw new UsageError(`${path}: "attachments" must be a list of file paths`);

  const headers: Array<[string, string]> = [];
  for (const name of ['from', 'to', 'subject'] as const) {
    const value = stringField(path, description, name);
    if (value !== undefined) headers.push([name[0].toUpperCase() + name.slice(1), value]);
  }
  headers.push(...headerPairs(path, description.headers));

  const leaf = (content: string, body: string, isHtml: boolean): TemplatePart => ({ content, params: [], encoding: '', headers: [], body: { kind: 'text', text: body, html: isHtml } });
  let root = leaf('text/plain', text, false);
  if (html !== undefined) root = { content: 'multipart/alternative', params: [], encoding: '', headers: [], body: { kind: 'parts', parts: [root, leaf('text/html', html, true)] } };
  if (attachments.length > 0) {
    // Paths are relative to the description, so a template folder can move as a whole.
    const files = (attachments as string[]).map((file): TemplatePart => {
      const full = resolve(dirname(path), file);
      requireReadableFile(`${path}: attachment`, full);
      const name = basename(full);
      return {
        content: contentTypeOf(name),
        params: [['name', name]],
        encoding: 'base64',
        headers: [['Content-Disposition', `attachment; filename="${name.replace(/["\\]/g, '_')}"`]],
        body: { kind: 'bytes', data: readFileSync(full) },
      };
    });
    root = { content: 'multipart/mixed', params: [], encoding: '', headers: [], body: { kind: 'parts', parts: [root, ...files] } };
  }
  root.headers = headers;
  return root;
}

/** The first 64 characters of a file: enough to tell JSON from a message without reading a large .eml whole. */
function head(path: string): string {
  const fd = openSync(path, 'r');
  try {
    // 64 UTF-16 code units take at most 192 octets of UTF-8.
    const bytes = Buffer.alloc(256);
    const n = readSync(fd, bytes, 0, bytes.length, 0);
    return bytes.toString('utf8', 0, n).slice(0, 64);
  } finally {
    closeSync(fd);
  }
}

/** Reads a template: a `.json` file (or one that starts with `{`) is a description, anything else an `.eml`. */
export function readTemplate(path: string): Template {
  requireReadableFile('--template', path);
  const root = extname(path).toLowerCase() === '.json' || head(path).trimStart().startsWith('{') ? readDescription(path) : readEml(path);
  const fields = new Set<string>();
  fieldsOf(root, fields);
  return { root, fields };
}

// The charset is chosen for the substituted text: values may bring characters the template had none of.
function textParams(params: Array<[string, string]>, text: string): Array<[string, string]> {
  const others = params.filter(([name]) => name.toLowerCase() !== 'charset');
  if (/[^\x00-\x7f]/.test(text)) return [...others, ['charset', 'utf-8']];
  const charset = params.find(([name]) => name.toLowerCase() === 'charset');
  return charset && /^(us-ascii|utf-8|iso-8859-\d+)$/i.test(charset[1]) ? [...others, charset] : others;
}

function build(part: TemplatePart, values: Readonly<Record<string, string>>, made: Token[]): Token {
  let token: Token;
  const body = part.body;
  if (body.kind === 'parts') {
    const parts = body.parts.map((child) => build(child, values, made));
    token = mime.initialize({ canonical: part.content, ...(part.params.length > 0 ? { param: part.params } : {}), parts });
  } else if (body.kind === 'text') {
    const text = substitute(body.text, values, body.html ? escapeHtml : undefined);
    const param = textParams(part.params, text);
    token = mime.initialize({ canonical: part.content, ...(param.length > 0 ? { param } : {}), string: text });
  } else {
    token = mime.initialize({ canonical: part.content, ...(part.params.length > 0 ? { param: part.params } : {}), ...(part.encoding !== '' ? { encoding: part.encoding } : {}), string: body.data });
  }
  made.push(token);
  for (const [name, value] of part.headers) mime.setheader(token, name, substituteField(name, value, (text) => substitute(text, values)), { mode: 'append' });
  return token;
}

/**
 * The message for one recipient; the caller finalizes it. A `To` field is
 * added when the template has none. A value the mime layer refuses (a line
 * break in a header value) throws its InvalidInputError, with nothing left behind.
 */
export function render(template: Template, values: Readonly<Record<string, string>>, recipient: string): Token {
  const made: Token[] = [];
  try {
    const root = build(template.root, values, made);
    if (!template.root.headers.some(([name]) => name.toLowerCase() === 'to')) mime.setheader(root, 'To', recipient, { mode: 'append' });
    return root;
  } catch (error) {
    releaseAll(made);
    throw error;
  }
}

/** The placeholders the row has no value for. */
export function missingFields(template: Template, values: Readonly<Record<string, string>>): string[] {
  return [...template.fields].filter((name) => values[name] === undefined);
}
