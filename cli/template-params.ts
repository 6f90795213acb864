/**
 * Placeholders in a structured header field of a template (Content-Disposition,
 * Content-Type): a value fills one parameter value and nothing else. Spliced
 * into the field's text, `x.pdf"; filename*=utf-8''evil.exe; x="y` would close
 * the quoted string and add parameters of its own; here each parameter is
 * filled, then written again, as a quoted string when it is plain ASCII text
 * and in RFC 2231's percent form (`name*=utf-8''...`) when it holds a quote, a
 * backslash, a control or a character beyond ASCII.
 */
import { libmime } from '../mime/codec/libraries';
import { InvalidInputError } from '../lib/errors';

/** The fields whose value is `token; name=value; ...` (RFC 2045, RFC 2183). */
const STRUCTURED = new Set(['content-disposition', 'content-type']);
const HAS_PLACEHOLDER = /\{\{\s*[A-Za-z0-9_.-]+\s*\}\}/;
// RFC 2231 attribute-char: printable ASCII but for space, `*`, `'`, `%` and the tspecials.
const ATTRIBUTE_CHAR = /^[!#$&+\-.0-9A-Z^_`a-z{|}~]$/;
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

type Substitute = (text: string) => string;

function quotedOrExtended(name: string, value: string): string {
  if (/^[\x20-\x7e]*$/.test(value) && !/["\\]/.test(value)) return `${name}="${value}"`;
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += ATTRIBUTE_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${name}*=utf-8''${encoded}`;
}

/**
 * A template header value with its placeholders filled. In a structured field
 * each value is confined to the parameter it stands in; elsewhere the value is
 * text, checked later by mime.setheader like any header value.
 */
export function substituteField(name: string, template: string, fill: Substitute): string {
  if (!STRUCTURED.has(name.toLowerCase()) || !HAS_PLACEHOLDER.test(template)) return fill(template);
  const parsed = libmime().parseHeaderValue(template);
  const head = fill(parsed.value).trim();
  if (!TOKEN.test(head.replace('/', ''))) {
    throw new InvalidInputError(`template header ${name}`, `${JSON.stringify(parsed.value)} must fill in a single token such as attachment or inline, not ${JSON.stringify(head)}`);
  }
  const params = Object.entries(parsed.params).map(([param, value]) => quotedOrExtended(param, fill(value)));
  return [head, ...params].join('; ');
}
