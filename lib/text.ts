/**
 * Checks shared by every writer of protocol text: a header line or an SMTP
 * command line must never receive a character that could end it early.
 */
import { InvalidInputError } from './errors';

// CR, LF and NUL end or corrupt a line; the other C0 controls (TAB aside) and DEL have no place in one.
const LINE_BREAKERS = /[\r\n\0]/;
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Throws an {@link InvalidInputError} naming `field` when `value` holds CR, LF or NUL. */
export function refuseLineBreaks(field: string, value: string): void {
  const match = LINE_BREAKERS.exec(value);
  if (match) {
    const name = match[0] === '\r' ? 'CR' : match[0] === '\n' ? 'LF' : 'NUL';
    throw new InvalidInputError(field, `${name} (0x${match[0].charCodeAt(0).toString(16).padStart(2, '0')}) at offset ${match.index} is not allowed`);
  }
}

/** Throws when `value` holds any control character other than TAB (CR, LF and NUL included). */
export function refuseControls(field: string, value: string): void {
  const match = CONTROLS.exec(value);
  if (match) {
    throw new InvalidInputError(field, `control character 0x${match[0].charCodeAt(0).toString(16).padStart(2, '0')} at offset ${match.index} is not allowed`);
  }
}
