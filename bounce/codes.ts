/**
 * Finding RFC 3463 enhanced status codes and RFC 5321 reply codes in free
 * text. Both regular expressions are anchored on fixed characters with
 * bounded repeats, so a scan is linear in the text.
 */

// A status code stands alone: not inside a dotted address or version number.
const STATUS = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/g;
// A reply code begins a line, follows a space, colon, bracket, quote or '#' (Exchange), and is followed by a space, '-' or the end.
const REPLY = /(?<![^\s:(<"'[=#])([245][0-5]\d)(?=[ \-]|$)/gm;

/**
 * The first RFC 3463 failure code (class 4 or 5) in text, else the first
 * success code, '' when there is none: a transcript quotes the `250 2.1.5`
 * of earlier commands before the failure it reports.
 */
export function findStatus(text: string): string {
  STATUS.lastIndex = 0;
  let success = '';
  for (let match = STATUS.exec(text); match !== null; match = STATUS.exec(text)) {
    const subject = Number(match[2]);
    const detail = Number(match[3]);
    if (subject > 7 || detail > 999) continue;
    const code = `${match[1]}.${subject}.${detail}`;
    if (match[1] !== '2') return code;
    if (success === '') success = code;
  }
  return success;
}

/** The first SMTP failure reply code (4xx, 5xx) in text, else the first success code, or null. */
export function findReply(text: string): number | null {
  REPLY.lastIndex = 0;
  let success: number | null = null;
  for (let match = REPLY.exec(text); match !== null; match = REPLY.exec(text)) {
    const code = Number(match[1]);
    if (code >= 400) return code;
    if (success === null) success = code;
  }
  return success;
}

/** The status written as RFC 3463 requires, or '' when it is not one. */
export function normaliseStatus(value: string): string {
  const match = /^\s*([245])\.(\d{1,3})\.(\d{1,3})/.exec(value);
  return match === null ? '' : `${match[1]}.${Number(match[2])}.${Number(match[3])}`;
}
