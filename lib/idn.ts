/**
 * Internationalized domain names: the one place where a domain is turned into
 * the ASCII form DNS and SMTP without SMTPUTF8 need (A-labels, `xn--...`,
 * RFC 5890/5891) and back. The encoding itself is the `punycode` package's
 * (RFC 3492).
 */
import * as punycode from 'punycode/';
import { InvalidInputError } from './errors';

// IDNA's label separators: the full stop and its ideographic and full-width forms (RFC 3490 section 3.1).
const SEPARATORS = /[.\u3002\uff0e\uff61]/;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const DOMAIN_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]*\]$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A domain in its ASCII form: each label with non-ASCII characters becomes an
 * A-label (`Bücher.example` → `xn--bcher-kva.example`), after Unicode NFC
 * normalization and lower-casing; ASCII labels are kept as written. A domain
 * literal (`[192.0.2.1]`) is returned as it is. Throws an InvalidInputError
 * for an empty label, a label longer than 63 octets, a domain longer than 253,
 * or a character that cannot be part of a host name.
 */
export function toASCIIDomain(domain: string): string {
  if (domain.startsWith('[')) {
    if (!DOMAIN_LITERAL.test(domain)) throw new InvalidInputError('domain', `malformed domain literal ${JSON.stringify(domain)}`);
    return domain;
  }
  if (domain === '') throw new InvalidInputError('domain', 'the domain is empty');
  const labels = domain.split(SEPARATORS).map((label) => {
    if (!NON_ASCII.test(label)) return label;
    return 'xn--' + punycode.encode(label.normalize('NFC').toLowerCase());
  });
  for (const label of labels) {
    if (label === '') throw new InvalidInputError('domain', `empty label in ${JSON.stringify(domain)}`);
    if (label.length > 63) throw new InvalidInputError('domain', `label longer than 63 octets in ${JSON.stringify(domain)}`);
    if (!LABEL.test(label)) {
      throw new InvalidInputError('domain', `${JSON.stringify(label)} in ${JSON.stringify(domain)} is not a host name label (letters, digits, inner hyphens)`);
    }
  }
  const ascii = labels.join('.');
  if (ascii.length > 253) throw new InvalidInputError('domain', `the domain is longer than 253 octets`);
  return ascii;
}
