/**
 * Internationalized domain names: the one place where a domain is turned into
 * the ASCII form DNS and SMTP without SMTPUTF8 need (A-labels, `xn--...`,
 * RFC 5890/5891). The mapping is UTS #46's, as browsers and Node's
 * URL parser do it (`url.domainToASCII`): full-width letters and dots fold to
 * ASCII, case folds, and what UTS #46 refuses (a zero-width joiner out of
 * place, a space, a symbol) is refused here too.
 */
import { domainToASCII } from 'node:url';
import { InvalidInputError } from './errors';

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const DOMAIN_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]*\]$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A domain in its ASCII form. A domain with a non-ASCII character goes through
 * UTS #46 (`Bücher.Example` → `xn--bcher-kva.example`, `ＥＸＡＭＰＬＥ．ｃｏｍ` →
 * `example.com`); an ASCII domain is kept as written. A domain literal
 * (`[192.0.2.1]`) is returned as it is. Throws an InvalidInputError for what
 * UTS #46 refuses, an empty label, a label longer than 63 octets, a domain
 * longer than 253, or a character that cannot be part of a host name.
 */
export function toASCIIDomain(domain: string): string {
  if (domain.startsWith('[')) {
    if (!DOMAIN_LITERAL.test(domain)) throw new InvalidInputError('domain', `malformed domain literal ${JSON.stringify(domain)}`);
    return domain;
  }
  if (domain === '') throw new InvalidInputError('domain', 'the domain is empty');
  let ascii = domain;
  if (NON_ASCII.test(domain)) {
    ascii = domainToASCII(domain);
    if (ascii === '') {
      throw new InvalidInputError(
        'domain',
        `${JSON.stringify(domain)} is not a valid internationalized domain name (UTS #46 refuses it, as browsers do): look for a space, a symbol, an invisible character such as a zero-width joiner, or a last label that is a number`,
      );
    }
  }
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label === '') throw new InvalidInputError('domain', `empty label in ${JSON.stringify(domain)}`);
    if (label.length > 63) throw new InvalidInputError('domain', `label longer than 63 octets in ${JSON.stringify(domain)}`);
    if (!LABEL.test(label)) {
      throw new InvalidInputError('domain', `${JSON.stringify(label)} in ${JSON.stringify(domain)} is not a host name label (letters, digits, inner hyphens)`);
    }
  }
  if (ascii.length > 253) throw new InvalidInputError('domain', `the domain is longer than 253 octets`);
  return ascii;
}
