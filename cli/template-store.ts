/**
 * A template as bytes that travel: the fleet stores a campaign's template in
 * Redis once, and workers on other machines render every item from it, since
 * they cannot read the enqueuing machine's files. The stored form is the
 * parsed template tree (headers, text bodies, and every attachment's bytes),
 * so a worker needs no file and no parser of the original format.
 *
 * The form is JSON with bytes in base64, keys in a fixed order: the same
 * template always gives the same bytes, so its digest (what item digests
 * cover) does not change between two enqueues of one campaign.
 */
import { InvalidInputError } from '../lib/errors';
import { templateDigest } from '../smtp/bulk/identity';
import type * as mime from '../mime';
import { missingFields, render } from './template';
import type { Template, TemplatePart } from './template';

/** The version of the stored form; a worker refuses a form it does not know. */
export const TEMPLATE_FORMAT = 'tclmail-template/1';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

type StoredBody = { text: string; html: boolean } | { base64: string } | { parts: StoredPart[] };

interface StoredPart {
  content: string;
  params: Array<[string, string]>;
  encoding: string;
  headers: Array<[string, string]>;
  body: StoredBody;
}

function toStored(part: TemplatePart): StoredPart {
  const body = part.body;
  let stored: StoredBody;
  if (body.kind === 'text') stored = { text: body.text, html: body.html };
  else if (body.kind === 'bytes') stored = { base64: body.data.toString('base64') };
  else stored = { parts: body.parts.map(toStored) };
  return { content: part.content, params: part.params, encoding: part.encoding, headers: part.headers, body: stored };
}

function bad(what: string): never {
  throw new InvalidInputError('stored template', `the stored template is damaged: ${what}; enqueue the campaign again with this version of tclmail`);
}

function pairs(value: unknown, what: string): Array<[string, string]> {
  if (!Array.isArray(value) || !value.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) bad(`${what} is not a list of [name, value] pairs`);
  return value as Array<[string, string]>;
}

function fromStored(value: unknown, depth: number): TemplatePart {
  if (depth > 50) bad('parts nest deeper than 50 levels');
  if (typeof value !== 'object' || value === null) bad('a part is not an object');
  const part = value as Partial<StoredPart>;
  if (typeof part.content !== 'string' || typeof part.encoding !== 'string') bad('a part has no content type or encoding');
  const body = part.body as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null) bad('a part has no body');
  let rebuilt: TemplatePart['body'];
  if (typeof body.text === 'string') rebuilt = { kind: 'text', text: body.text, html: body.html === true };
  else if (typeof body.base64 === 'string') rebuilt = { kind: 'bytes', data: Buffer.from(body.base64, 'base64') };
  else if (Array.isArray(body.parts)) rebuilt = { kind: 'parts', parts: body.parts.map((child) => fromStored(child, depth + 1)) };
  else bad('a body is neither text, bytes nor parts');
  return { content: part.content, params: pairs(part.params, 'params'), encoding: part.encoding, headers: pairs(part.headers, 'headers'), body: rebuilt };
}

function fieldsOf(part: TemplatePart, into: Set<string>): void {
  const collect = (text: string): void => {
    for (const match of text.matchAll(PLACEHOLDER)) into.add(match[1]);
  };
  for (const [, value] of part.headers) collect(value);
  if (part.body.kind === 'text') collect(part.body.text);
  if (part.body.kind === 'parts') for (const child of part.body.parts) fieldsOf(child, into);
}

/** The template as bytes a worker can rebuild it from, attachments included. */
export function storeTemplate(template: Template): Buffer {
  return Buffer.from(JSON.stringify({ format: TEMPLATE_FORMAT, root: toStored(template.root) }), 'utf8');
}

/** The template rebuilt from {@link storeTemplate}'s bytes; throws InvalidInputError on bytes it cannot read. */
export function loadTemplate(bytes: Uint8Array): Template {
  let parsed: { format?: unknown; root?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof parsed;
  } catch {
    bad('not JSON');
  }
  if (parsed.format !== TEMPLATE_FORMAT) bad(`format ${JSON.stringify(parsed.format)}, this tclmail reads ${TEMPLATE_FORMAT}`);
  const root = fromStored(parsed.root, 0);
  const fields = new Set<string>();
  fieldsOf(root, fields);
  return { root, fields };
}

/** The digest item digests cover: of the stored bytes, which hold the attachments too. */
export function storedTemplateDigest(bytes: Uint8Array): string {
  return templateDigest(bytes);
}

/** Templates rebuilt so far, by digest: a worker parses a campaign's template once, not per message. */
const rebuilt = new Map<string, Template>();
const REBUILT_KEPT = 32;

/**
 * One item's message from a campaign's stored template bytes and the row's
 * values; the caller sends and finalizes it. What a fleet worker renders with.
 * @throws InvalidInputError for damaged bytes, a missing value or a value the mime layer refuses.
 */
export function renderStored(bytes: Uint8Array, digest: string, values: Readonly<Record<string, string>>, recipient: string): mime.Token {
  const key = digest !== '' ? digest : storedTemplateDigest(bytes);
  let template = rebuilt.get(key);
  if (template === undefined) {
    template = loadTemplate(bytes);
    if (rebuilt.size >= REBUILT_KEPT) rebuilt.delete(rebuilt.keys().next().value as string);
    rebuilt.set(key, template);
  }
  const missing = missingFields(template, values);
  if (missing.length > 0) throw new InvalidInputError(`field ${missing[0]}`, `the template uses {{${missing[0]}}} and the item has no such value`);
  return render(template, values, recipient);
}
