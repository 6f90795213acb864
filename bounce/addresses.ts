/**
 * Finding mail addresses in free text without a regular expression: from
 * each '@' the local part and the domain are grown outwards over the
 * characters they may hold, each at most 64 / 255 characters, so a scan is
 * linear in the text.
 */

const MAX_LOCAL = 64;
const MAX_DOMAIN = 255;

function isLocalChar(code: number): boolean {
  // RFC 5322 atext and '.', and any non-ASCII character (RFC 6531).
  if (code >= 0x80) return true;
  if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return true;
  return "!#$%&'*+-/=?^_`{|}~.".includes(String.fromCharCode(code));
}

function isDomainChar(code: number): boolean {
  if (code >= 0x80) return true;
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x2e;
}

/** One address found in text, and where it stood. */
export interface Found {
  address: string;
  index: number;
  end: number;
}

/** Addresses in text, in order, at most `limit`. */
export function findAddresses(text: string, limit = 1000): Found[] {
  const found: Found[] = [];
  let from = 0;
  let lastEnd = 0;
  while (found.length < limit) {
    const at = text.indexOf('@', from);
    if (at < 0) break;
    from = at + 1;
    let start = at;
    while (start > lastEnd && at - start < MAX_LOCAL && isLocalChar(text.charCodeAt(start - 1))) start -= 1;
    let end = at + 1;
    while (end < text.length && end - at <= MAX_DOMAIN && isDomainChar(text.charCodeAt(end))) end += 1;
    // Trailing dots and hyphens end a sentence, not a domain; leading dots are punctuation too.
    while (end > at + 1 && (text[end - 1] === '.' || text[end - 1] === '-')) end -= 1;
    while (start < at && (text[start] === '.' || text[start] === "'" || text[start] === '=')) start += 1;
    const local = text.slice(start, at);
    const domain = text.slice(at + 1, end);
    if (local === '' || !domain.includes('.') || domain.startsWith('.') || domain.includes('..')) continue;
    found.push({ address: `${local}@${domain}`, index: start, end });
    lastEnd = end;
    from = end;
  }
  return found;
}

/** The address inside a field value such as `rfc822; <a@b>` or `"Name" <a@b>`, '' when none. */
export function addressIn(value: string): string {
  const found = findAddresses(value, 1);
  return found.length > 0 ? found[0].address : '';
}

/** RFC 6533 section 3: `\x{HEX}` escapes of a utf-8 address type. */
export function decodeUtf8Address(value: string): string {
  return value.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (whole, hex: string) => {
    const code = parseInt(hex, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** RFC 3461 section 4: xtext (`+HH`) as used in Original-Recipient and ENVID. */
export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/g, (_whole, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Mail addresses that write reports rather than receive mail. */
export function isRobot(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  return isDaemon(address) || local === 'postmaster' || local === 'post_master' || local === 'daemon';
}

/** Addresses of the mail system itself, never a failed recipient. */
export function isDaemon(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@')).toLowerCase();
  return local === 'mailer-daemon' || local === 'mail-daemon' || local === 'maildaemon';
}
