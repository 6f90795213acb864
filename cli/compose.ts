/**
 * Turns the `send` command's message flags into a mime token: a text part,
 * wrapped in multipart/alternative when there is an HTML version, wrapped in
 * multipart/mixed when files are attached. Every file is checked before the
 * first part is made, so a typo in a path is a usage error, not half a message.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { basename } from 'node:path';
import { libmime } from '../mime/codec/libraries';
import * as mime from '../mime';
import { UsageError } from './args';
import { contentTypeOf } from './content-types';

type Token = mime.Token;

export interface Composition {
  from?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject?: string;
  /** The plain-text body. */
  body: string;
  /** A file holding the HTML alternative of the body. */
  html?: string;
  /** Files to attach, in order. */
  attach: string[];
  /** Extra header fields, in order, as given. */
  headers: Array<[string, string]>;
}

/** Refuses a path that is not a readable regular file, naming the flag it came from ('' for an argument). */
export function requireReadableFile(flag: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
    if (!statSync(path).isFile()) throw new Error('not a regular file');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`${flag === '' ? '' : `${flag} `}${path}: ${reason}`);
  }
}

/** Splits a `--header 'Key: value'` argument. */
export function splitHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const key = colon < 0 ? '' : text.slice(0, colon).trim();
  if (key === '') throw new UsageError(`--header expects 'Key: value', not ${JSON.stringify(text)}`);
  return [key, text.slice(colon + 1).trim()];
}

// The body is a JavaScript string; declaring UTF-8 only when it is needed keeps ASCII mail as Tcllib writes it.
function charsetFor(text: string): Array<[string, string]> {
  return /[^\x00-\x7f]/.test(text) ? [['charset', 'utf-8']] : [];
}

function attachment(path: string): Token {
  const name = basename(path);
  const canonical = contentTypeOf(name);
  return mime.initialize({
    canonical,
    param: [['name', name]],
    // Text is left to the builder (it picks 7bit or quoted-printable); anything else is binary to a mail reader.
    ...(canonical.startsWith('text/') ? {} : { encoding: 'base64' }),
    header: [['Content-Disposition', libmime().buildHeaderValue({ value: 'attachment', params: { filename: name } })]],
    file: path,
  });
}

/** Builds the message; the caller finalizes the returned token (with its sub-parts). */
export function compose(message: Composition): Token {
  if (message.html !== undefined) requireReadableFile('--html', message.html);
  for (const path of message.attach) requireReadableFile('--attach', path);

  const made: Token[] = [];
  const track = (token: Token): Token => {
    made.push(token);
    return token;
  };
  try {
    let root = track(mime.initialize({ canonical: 'text/plain', param: charsetFor(message.body), string: message.body }));
    if (message.html !== undefined) {
      const html = track(mime.initialize({ canonical: 'text/html', param: [['charset', 'utf-8']], file: message.html }));
      root = track(mime.initialize({ canonical: 'multipart/alternative', parts: [root, html] }));
    }
    if (message.attach.length > 0) {
      const files = message.attach.map((path) => track(attachment(path)));
      root = track(mime.initialize({ canonical: 'multipart/mixed', parts: [root, ...files] }));
    }
    const set = (key: string, value: string): void => {
      mime.setheader(root, key, value, { mode: 'append' });
    };
    if (message.from !== undefined) set('From', message.from);
    if (message.to.length > 0) set('To', message.to.join(', '));
    if (message.cc.length > 0) set('Cc', message.cc.join(', '));
    // Bcc rides on the part for the envelope; sendmessage never transmits it.
    if (message.bcc.length > 0) set('Bcc', message.bcc.join(', '));
    if (message.subject !== undefined) set('Subject', message.subject);
    for (const [key, value] of message.headers) set(key, value);
    return root;
  } catch (error) {
    releaseAll(made);
    throw error;
  }
}

/** Releases the tokens of a message that could not be finished, newest first. */
export function releaseAll(made: mime.Token[]): void {
  for (const token of made.reverse()) {
    try {
      mime.finalize(token, { subordinates: 'none' });
    } catch {
      // already released with its parent
    }
  }
}
