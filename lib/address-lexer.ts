/**
 * The lexer of the RFC 5322 address parser (./address.ts): one pass over the
 * text turns it into atoms, quoted strings, domain literals and specials, with
 * the comments and white space before each token carried on it, and a line
 * break or control character turned into an error token.
 */
export type Kind = 'atom' | 'qstring' | 'dliteral' | 'special' | 'end' | 'error';

export interface Token {
  kind: Kind;
  /** The source text (line breaks of folding removed), the special character, or what went wrong. */
  text: string;
  /** For a quoted string: its content, quotes and backslashes removed. */
  value: string;
  /** A quoted string that was folded across lines: harmless in a phrase, an error in a local part. */
  folded: boolean;
  /** White space or a comment came before this token. */
  spaced: boolean;
  /** The comments just before this token, collected by whoever consumes it. */
  comments: string[];
}

const SPECIALS = ';,<>:.@)]\\';

function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

function hex(code: number): string {
  return '0x' + code.toString(16).padStart(2, '0');
}

/** Splits the text into tokens in a single pass; comments ride on the token that follows them. */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const n = input.length;
  let i = 0;
  let comments: string[] = [];
  let spaced = false;

  const push = (kind: Kind, text: string, value = '', folded = false): void => {
    tokens.push({ kind, text, value, folded, spaced, comments });
    comments = [];
    spaced = false;
  };
  /** Length of the line break at `at` (CR LF, LF or CR), 0 when there is none. */
  const lineBreak = (at: number): number => {
    const c = input.charCodeAt(at);
    if (c === 0x0d) return input.charCodeAt(at + 1) === 0x0a ? 2 : 1;
    return c === 0x0a ? 1 : 0;
  };
  const isWsp = (at: number): boolean => {
    const c = input.charCodeAt(at);
    return c === 0x20 || c === 0x09;
  };

  /**
   * Reads a bracketed run (comment, quoted string, domain literal) from `i`,
   * which holds the opening character. Returns its text with folding removed,
   * its unescaped content, and the first defect found, if any.
   */
  const bracketed = (close: number, nests: boolean, what: string) => {
    const open = input.charCodeAt(i);
    let depth = 1;
    let text = input[i];
    let value = '';
    let defect = '';
    let folded = false;
    i++;
    while (i < n) {
      const c = input.charCodeAt(i);
      const br = lineBreak(i);
      if (br > 0) {
        if (isWsp(i + br)) folded = true;
        else if (!defect) defect = `line break in ${what}`;
        i += br;
        continue;
      }
      if (isControl(c) && !defect) defect = `control character ${hex(c)} in ${what}`;
      if (c === 0x5c && i + 1 < n) {
        // A backslash quotes the next character, except a line break, which it cannot hide.
        if (lineBreak(i + 1) > 0) {
          text += '\\';
          i++;
          continue;
        }
        const next = input.charCodeAt(i + 1);
        if (isControl(next) && !defect) defect = `control character ${hex(next)} in ${what}`;
        text += input.slice(i, i + 2);
        value += input[i + 1];
        i += 2;
        continue;
      }
      if (nests && c === open) depth++;
      else if (c === close && --depth === 0) {
        text += input[i];
        i++;
        return { text, value, defect, folded, complete: true };
      }
      text += input[i];
      value += input[i];
      i++;
    }
    return { text, value, defect, folded, complete: false };
  };

  while (i < n) {
    const code = input.charCodeAt(i);
    const c = input[i];
    if (c === ' ' || c === '\t') {
      spaced = true;
      i++;
      continue;
    }
    if (lineBreak(i) > 0) {
      const br = lineBreak(i);
      if (isWsp(i + br)) {
        spaced = true;
        i += br;
        continue;
      }
      // A bare line break: fine only as trailing white space; otherwise one error token for the whole run.
      let j = i;
      while (j < n && (isWsp(j) || lineBreak(j) > 0)) j++;
      if (j < n) push('error', 'line break');
      else spaced = true;
      i = j;
      continue;
    }
    if (c === '(') {
      const comment = bracketed(0x29, true, 'comment');
      if (!comment.complete) {
        push('error', 'end-of-input during comment');
      } else if (comment.defect) {
        push('error', comment.defect);
      } else {
        comments.push(comment.text);
        spaced = true;
      }
      continue;
    }
    if (c === '"') {
      const quoted = bracketed(0x22, false, 'quoted-string');
      if (!quoted.complete) push('error', 'end-of-input during quoted-string');
      else if (quoted.defect) push('error', quoted.defect);
      else push('qstring', quoted.text, quoted.value, quoted.folded);
      continue;
    }
    if (c === '[') {
      const literal = bracketed(0x5d, false, 'domain-literal');
      if (!literal.complete) push('error', 'end-of-input during domain-literal');
      else if (literal.defect || literal.folded) push('error', literal.defect || 'line break in domain-literal');
      else push('dliteral', literal.text, literal.value);
      continue;
    }
    if (SPECIALS.includes(c)) {
      push('special', c);
      i++;
      continue;
    }
    if (isControl(code)) {
      push('error', `control character ${hex(code)}`);
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      const k = input.charCodeAt(i);
      const ch = input[i];
      if (ch === ' ' || ch === '\t' || ch === '(' || ch === '"' || ch === '[' || SPECIALS.includes(ch)) break;
      if (isControl(k)) break; // CR and LF included
      i++;
    }
    push('atom', input.slice(start, i));
  }
  push('end', 'end-of-input');
  return tokens;
}
