/**
 * VERP (variable envelope return path): each item gets its own envelope
 * sender, `bounces+{id}@example.org`, so that a bounce names the item in the
 * address it is delivered to, whatever it quotes of the original.
 */
import { InvalidInputError } from '../lib/errors';

const PLACEHOLDER = '{id}';
/** RFC 5321 section 4.5.3.1.1: a local part is at most 64 octets. */
const MAX_LOCAL = 64;
// RFC 5321 dot-atom characters that need no quoting; ids are kept to a safe subset.
const ID = /^[A-Za-z0-9_-]+$/;
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;


function splitTemplate(template: string): { prefix: string; suffix: string; domain: string } {
  const at = template.lastIndexOf('@');
  if (at <= 0 || at === template.length - 1) {
    throw new InvalidInputError('verp template', `${JSON.stringify(template)} is not an address: write it as bounces+{id}@example.org`);
  }
  const local = template.slice(0, at);
  const domain = template.slice(at + 1);
  const place = local.indexOf(PLACEHOLDER);
  if (place < 0 || local.indexOf(PLACEHOLDER, place + 1) >= 0) {
    throw new InvalidInputError('verp template', `${JSON.stringify(template)} must hold {id} exactly once, in the local part (bounces+{id}@example.org)`);
  }
  const prefix = local.slice(0, place);
  const suffix = local.slice(place + PLACEHOLDER.length);
  for (const piece of [prefix, suffix]) {
    if (piece !== '' && !ATEXT.test(piece)) {
      throw new InvalidInputError('verp template', `the local part of ${JSON.stringify(template)} may hold only RFC 5321 atext characters besides {id}`);
    }
  }
  if (!/^[A-Za-z0-9.-]+$/.test(domain) && !/^\[[0-9A-Fa-f:.]+\]$/.test(domain)) {
    throw new InvalidInputError('verp template', `the domain of ${JSON.stringify(template)} must be an ASCII host name (use punycode for an IDN)`);
  }
  return { prefix, suffix, domain };
}

/**
 * The envelope sender for one item: the template's `{id}` replaced by the id.
 * Throws an InvalidInputError (code EINVAL) for a template without exactly one `{id}`
 * in its local part, an id outside `[A-Za-z0-9_-]`, or a local part over 64
 * octets.
 *
 * TypeScript: `bounce.verpAddress('bounces+{id}@example.org', 'a1b2')` → `'bounces+a1b2@example.org'`
 */
export function verpAddress(template: string, id: string): string {
  const { prefix, suffix, domain } = splitTemplate(template);
  if (id === '' || !ID.test(id)) {
    throw new InvalidInputError('verp id', `${JSON.stringify(id)} cannot go in an address: an item id for VERP holds only letters, digits, '_' and '-'`);
  }
  const local = `${prefix}${id}${suffix}`;
  if (Buffer.byteLength(local) > MAX_LOCAL) {
    throw new InvalidInputError('verp id', `the local part ${JSON.stringify(local)} is ${Buffer.byteLength(local)} octets, over RFC 5321's 64: use a shorter id or prefix`);
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    throw new InvalidInputError('verp id', `the local part ${JSON.stringify(local)} is not a dot-atom (a dot at either end or two in a row)`);
  }
  return `${local}@${domain}`;
}

/**
 * The item id in the first of `addresses` that fits the template (domain and
 * prefix compared without case), '' when none does.
 *
 * TypeScript: `bounce.verpItem('bounces+{id}@example.org', ['bounces+a1b2@example.org'])` → `'a1b2'`
 */
export function verpItem(template: string, addresses: readonly string[]): string {
  const { prefix, suffix, domain } = splitTemplate(template);
  for (const raw of addresses) {
    const address = raw.trim().replace(/^<|>$/g, '');
    const at = address.lastIndexOf('@');
    if (at < 0 || address.slice(at + 1).toLowerCase() !== domain.toLowerCase()) continue;
    const local = address.slice(0, at);
    if (local.length <= prefix.length + suffix.length) continue;
    if (local.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) continue;
    if (local.slice(local.length - suffix.length).toLowerCase() !== suffix.toLowerCase()) continue;
    const id = local.slice(prefix.length, local.length - suffix.length);
    if (ID.test(id)) return id;
  }
  return '';
}
