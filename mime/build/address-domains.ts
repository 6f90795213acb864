/**
 * Address fields for a server without SMTPUTF8 (RFC 6531): every header must
 * then be 7-bit (RFC 5322), so an internationalized domain in an addr-spec is
 * written as A-labels (`info@bücher.example` → `info@xn--bcher-kva.example`),
 * the form the envelope uses too, and a comment with non-ASCII text becomes an
 * encoded word. A local part has no ASCII form: a non-ASCII one is refused, as
 * it is in the envelope. Display names are left to the field's own encoding
 * (RFC 2047 encoded words).
 */
import { InvalidInputError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { word_encode } from '../codec/words';

const NON_ASCII = /[^\x00-\x7f]/;

// The errors that only a server with SMTPUTF8 would have avoided: the smtp layer gives that server up, not the message.
const needingSmtputf8 = new WeakSet<object>();

/** True for the error of a non-ASCII local part in a header written for a server without SMTPUTF8. */
export function needsSmtputf8(error: unknown): boolean {
  return typeof error === 'object' && error !== null && needingSmtputf8.has(error);
}
// What ends a domain or a local part: white space, the list and group separators, brackets, comments and quotes.
const DOMAIN_END = ' \t<>,;:()"';
const LOCAL_START = ' \t<>,;:()';

/** The start of the local part that ends just before `at` (a quoted local part is taken whole). */
function localPartStart(value: string, at: number): number {
  let i = at - 1;
  if (value[i] === '"') {
    for (i -= 1; i >= 0; i--) if (value[i] === '"' && value[i - 1] !== '\\') return i;
    return 0;
  }
  while (i >= 0 && !LOCAL_START.includes(value[i])) i--;
  return i + 1;
}

/**
 * An address-list value with each addr-spec's domain in its ASCII form. `@`
 * signs inside quoted strings (display names) and comments are not addresses.
 * Throws an InvalidInputError naming the field for a non-ASCII local part or
 * a domain that has no ASCII form.
 */
export function withAsciiDomains(field: string, value: string): string {
  if (!NON_ASCII.test(value)) return value;
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '(') {
      // A comment is text: one with non-ASCII characters becomes an encoded word (RFC 2047 section 5 (2)).
      const end = commentEnd(value, i);
      const text = value.slice(i + 1, end).replace(/\\(.)/g, '$1');
      if (NON_ASCII.test(text)) {
        out += `${value.slice(from, i)}(${word_encode('utf-8', 'base64', text, { charset_encoded: false })})`;
        from = end + 1;
      }
      i = end;
    }
    // A quoted string, a display name or a quoted local part, is skipped whole; an `@` right after it is an address's.
    else if (char === '"') i = closingQuote(value, i);
    else if (char === '@') {
      let end = i + 1;
      if (value[end] === '[') end = value.indexOf(']', end) + 1 || value.length;
      else while (end < value.length && !DOMAIN_END.includes(value[end])) end++;
      const local = value.slice(localPartStart(value, i), i);
      const domain = value.slice(i + 1, end);
      if (NON_ASCII.test(local)) {
        const error = new InvalidInputError(
          `header ${field}`,
          `non-ASCII local part in ${JSON.stringify(`${local}@${domain}`)} needs a server that offers SMTPUTF8 (RFC 6531); only a domain has an ASCII form`,
        );
        needingSmtputf8.add(error);
        throw error;
      }
      if (NON_ASCII.test(domain)) {
        out += value.slice(from, i + 1) + asciiDomain(field, domain);
        from = end;
      }
      i = end - 1;
    }
  }
  return out + value.slice(from);
}

/** The index of the parenthesis that closes the comment opened at `at`, nested comments within (the last index when none does). */
function commentEnd(value: string, at: number): number {
  let depth = 0;
  for (let i = at; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '(') depth++;
    else if (value[i] === ')' && --depth === 0) return i;
  }
  return value.length - 1;
}

/** The index of the quote that closes the quoted string opened at `at` (the last index when none does). */
function closingQuote(value: string, at: number): number {
  for (let i = at + 1; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '"') return i;
  }
  return value.length - 1;
}

function asciiDomain(field: string, domain: string): string {
  try {
    return toASCIIDomain(domain);
  } catch (error) {
    throw new InvalidInputError(`header ${field}`, (error as Error).message);
  }
}
