/**
 * ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 §4.1.2) as typed values,
 * one kind per keyword a client of this library sets, each rendering its own
 * text. A caller's own parameter text is read once into the same values, so
 * nothing downstream looks at parameter strings again.
 */
import { InvalidInputError } from '../../lib/errors';
import { refuseLineBreaks } from '../../lib/text';

/** RFC 6152 (8BITMIME), RFC 3030 (BINARYMIME): what the body holds. */
export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

/** A DSN NOTIFY keyword (RFC 3461 §4.1), as sent. */
export type NotifyKeyword = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** A MAIL FROM parameter. `OTHER` is any keyword this library does not interpret, sent as given. */
export type MailParameter =
  /** RFC 1870: the message size in octets. */
  | { readonly kind: 'SIZE'; readonly octets: number }
  | { readonly kind: 'BODY'; readonly type: BodyType }
  /** RFC 6531: addresses or header fields hold UTF-8. */
  | { readonly kind: 'SMTPUTF8' }
  /** RFC 3461 §4.3: what a report returns. */
  | { readonly kind: 'RET'; readonly what: 'FULL' | 'HDRS' }
  /** RFC 3461 §4.4: the sender's id of the transaction (xtext on the wire). */
  | { readonly kind: 'ENVID'; readonly id: string }
  /** RFC 8689: TLS all the way. */
  | { readonly kind: 'REQUIRETLS' }
  /** RFC 4954 §5: the authenticated submitter ('' is `<>`; xtext on the wire). */
  | { readonly kind: 'AUTH'; readonly mailbox: string }
  | OtherParameter;

/** A RCPT TO parameter. */
export type RcptParameter =
  /** RFC 3461 §4.1: when to report; NEVER stands alone. */
  | { readonly kind: 'NOTIFY'; readonly when: readonly NotifyKeyword[] }
  /** RFC 3461 §4.2: the original recipient (rfc822 or utf-8 address type on the wire). */
  | { readonly kind: 'ORCPT'; readonly address: string }
  | OtherParameter;

/** A parameter kept as given: the keyword (uppercased, so it compares as the RFC says) and the value, if any. */
export interface OtherParameter {
  readonly kind: 'OTHER';
  readonly keyword: string;
  readonly value: string | null;
}

// RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126).
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const VALUE = /^[\x21-\x3c\x3e-\x7e]+$/;
const BODY_TYPES: readonly BodyType[] = ['7BIT', '8BITMIME', 'BINARYMIME'];

// The parameters without a variable part are one value each: planning a message allocates none of them.
export const SMTPUTF8: MailParameter = Object.freeze({ kind: 'SMTPUTF8' });
export const REQUIRETLS: MailParameter = Object.freeze({ kind: 'REQUIRETLS' });
export const BODY: Readonly<Record<BodyType, MailParameter>> = Object.freeze({
  '7BIT': Object.freeze({ kind: 'BODY', type: '7BIT' }),
  '8BITMIME': Object.freeze({ kind: 'BODY', type: '8BITMIME' }),
  BINARYMIME: Object.freeze({ kind: 'BODY', type: 'BINARYMIME' }),
});

/**
 * xtext (RFC 3461 §4): printable ASCII but `+` and `=` as is, every other
 * octet of the UTF-8 form as `+HH`.
 */
export function xtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d
      ? String.fromCharCode(byte)
      : '+' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * An address for ORCPT: `rfc822;` and the address as xtext, or for an address
 * with non-ASCII characters `utf-8;` and utf-8-addr-xtext (RFC 6533 §3), where
 * such a character, `+`, `=`, `\` and controls are written `\x{HEX}`.
 */
export function orcptValue(address: string): string {
  if (!/[^\x00-\x7f]/.test(address)) return `rfc822;${xtext(address)}`;
  let out = '';
  for (const char of address) {
    const point = char.codePointAt(0) as number;
    const plain = point >= 0x21 && point <= 0x7e && char !== '+' && char !== '=' && char !== '\\';
    out += plain ? char : `\\x{${point.toString(16).toUpperCase()}}`;
  }
  return `utf-8;${out}`;
}

/** Refuses `keyword[=value]` that RFC 5321 section 4.1.2 does not allow: a line break by name, else the shape. */
function checkShape(field: string, text: string, keyword: string, value: string | null): void {
  if (KEYWORD.test(keyword) && (value === null || VALUE.test(value))) return;
  refuseLineBreaks(field, text);
  throw new InvalidInputError(field, `not an ESMTP parameter (keyword[=value], no spaces): ${JSON.stringify(text)}`);
}

function otherText(param: OtherParameter, field: string): string {
  const text = param.value === null ? param.keyword : `${param.keyword}=${param.value}`;
  // A value made by hand (not read by parseParameter) is checked here: a space would start another parameter.
  checkShape(field, text, param.keyword, param.value);
  return text;
}

/** The parameter's text on the MAIL FROM line. */
export function mailParameterText(param: MailParameter): string {
  switch (param.kind) {
    case 'SIZE':
      if (!Number.isSafeInteger(param.octets) || param.octets < 0) throw new InvalidInputError('mail parameter', `SIZE expects a number of octets, not ${param.octets}`);
      return `SIZE=${param.octets}`;
    case 'BODY':
      return `BODY=${param.type}`;
    case 'SMTPUTF8':
    case 'REQUIRETLS':
      return param.kind;
    case 'RET':
      return `RET=${param.what}`;
    case 'ENVID':
      return `ENVID=${xtext(param.id)}`;
    case 'AUTH':
      return `AUTH=${param.mailbox === '' ? '<>' : xtext(param.mailbox)}`;
    case 'OTHER':
      return otherText(param, 'mail parameter');
  }
}

/** The parameter's text on the RCPT TO line. */
export function rcptParameterText(param: RcptParameter): string {
  switch (param.kind) {
    case 'NOTIFY':
      return `NOTIFY=${param.when.join(',')}`;
    case 'ORCPT':
      return `ORCPT=${orcptValue(param.address)}`;
    case 'OTHER':
      return otherText(param, 'rcpt parameter');
  }
}

/** Splits `keyword[=value]` as RFC 5321 §4.1.2 spells it; a line break or a space is refused. */
function split(field: string, text: string): OtherParameter {
  if (typeof text !== 'string') throw new InvalidInputError(field, `an ESMTP parameter must be a string, not ${typeof text}`);
  const eq = text.indexOf('=');
  const keyword = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? null : text.slice(eq + 1);
  checkShape(field, text, keyword, value);
  return { kind: 'OTHER', keyword: keyword.toUpperCase(), value };
}

/**
 * A caller's MAIL FROM parameter text (`'SIZE=1000'`, `'BODY=8BITMIME'`, `'X-FOO=1'`)
 * as a value. SIZE, BODY, SMTPUTF8, REQUIRETLS and RET are read into their own
 * kinds (a caller's SIZE or BODY then stands instead of the one the session would
 * add); any other keyword is kept as given.
 */
export function parseMailParameter(text: string): MailParameter {
  const param = split('mail parameter', text);
  const { keyword, value } = param;
  const upper = value?.toUpperCase();
  switch (keyword) {
    case 'SIZE':
      if (value === null || !/^\d{1,15}$/.test(value)) throw new InvalidInputError('mail parameter', `SIZE expects a number of octets: ${JSON.stringify(text)}`);
      return { kind: 'SIZE', octets: Number(value) };
    case 'BODY':
      if (upper === undefined || !(BODY_TYPES as readonly string[]).includes(upper)) {
        throw new InvalidInputError('mail parameter', `BODY expects ${BODY_TYPES.join(', ')}: ${JSON.stringify(text)}`);
      }
      return BODY[upper as BodyType];
    case 'SMTPUTF8':
      return value === null ? SMTPUTF8 : param;
    case 'REQUIRETLS':
      return value === null ? REQUIRETLS : param;
    case 'RET':
      return upper === 'FULL' || upper === 'HDRS' ? { kind: 'RET', what: upper } : param;
    default:
      return param;
  }
}

/** A caller's RCPT TO parameter text (`'NOTIFY=FAILURE'`) as a value; anything but a plain NOTIFY is kept as given. */
export function parseRcptParameter(text: string): RcptParameter {
  const param = split('rcpt parameter', text);
  if (param.keyword === 'NOTIFY' && param.value !== null && /^(NEVER|(SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*)$/i.test(param.value)) {
    return { kind: 'NOTIFY', when: param.value.toUpperCase().split(',') as NotifyKeyword[] };
  }
  return param;
}

/** The keyword a MAIL FROM parameter sends. */
export function mailKeyword(param: MailParameter): string {
  return param.kind === 'OTHER' ? param.keyword : param.kind;
}
