/**
 * Reading a message with the mime module's parse mode into the few things a
 * bounce parser looks at: the top header, the human-readable text, the
 * machine-readable report parts and the returned original. Everything is
 * capped (parts visited, characters kept), so a hostile message costs a
 * bounded amount of work past the mime parser's own bounds.
 */
import * as mime from '../mime';

/** Header fields by lower-cased name, values in order. */
export type Fields = Map<string, string[]>;

/** The parts of a message that matter to a bounce parser. */
export interface Flat {
  header: Fields;
  /** text/* leaves outside any returned message, decoded, in order. */
  texts: string[];
  /** message/delivery-status (and global-) bodies. */
  reports: string[];
  /** message/feedback-report bodies. */
  feedback: string[];
  /** Header of the returned message (message/rfc822 or text/rfc822-headers), when there is one. */
  original: Fields | null;
  /** The top content type. */
  content: string;
}

/** Parts visited at most; a bounce has a handful. */
const MAX_PARTS = 64;
/** Characters kept of one text part. */
const MAX_TEXT = 64 * 1024;
/** Characters kept of all text parts together. */
const MAX_TEXTS = 256 * 1024;
/** Characters kept of all report parts together (a thousand recipient groups fit). */
const MAX_REPORTS = 1024 * 1024;
/** Characters kept of one report part. */
const MAX_REPORT = 512 * 1024;
/** Bytes of a message that are parsed at all: reports sit at the front. */
export const MAX_MESSAGE = 4 * 1024 * 1024;
/** Nesting followed at most. */
const MAX_DEPTH = 8;

/** The fields of a part, keys lower-cased. */
export function fieldsOf(token: mime.Token): Fields {
  const fields: Fields = new Map();
  let all: Record<string, string[]>;
  try {
    all = mime.getheader(token);
  } catch {
    return fields;
  }
  for (const [name, values] of Object.entries(all)) {
    const key = name.toLowerCase();
    const list = fields.get(key);
    if (list) list.push(...values);
    else fields.set(key, [...values]);
  }
  return fields;
}

/** The first value of a field, '' when absent. */
export function first(fields: Fields | null, name: string): string {
  return fields?.get(name)?.[0] ?? '';
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}

/** Drops tags and a few entities from HTML, in one pass. */
function htmlText(html: string): string {
  let out = '';
  let inTag = false;
  for (let i = 0; i < html.length; i += 1) {
    const c = html[i];
    if (inTag) {
      if (c === '>') inTag = false;
      continue;
    }
    if (c === '<') {
      inTag = true;
      // Block elements end a line, so that texts keep their line structure.
      const next = html.slice(i + 1, i + 4).toLowerCase();
      if (next.startsWith('br') || next.startsWith('p') || next.startsWith('/p') || next.startsWith('div') || next.startsWith('tr') || next.startsWith('li')) out += '\n';
      continue;
    }
    out += c;
  }
  return out.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&nbsp;/g, ' ').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/** The decoded body of a leaf; an unknown charset falls back to Latin-1, bad input to ''. */
export function leafText(token: mime.Token): string {
  try {
    const body = mime.getbody(token, { decode: true });
    return cut(typeof body === 'string' ? body : body.toString('latin1'));
  } catch {
    try {
      const body = mime.getbody(token);
      return cut(typeof body === 'string' ? body : body.toString('latin1'));
    } catch {
      return '';
    }
  }
}

/** The text of a message/* part whose body is a list of field groups (not a message). */
function groupsText(token: mime.Token): string {
  try {
    const inner = mime.getproperty(token, 'parts')[0];
    if (inner === undefined) return '';
    const text = mime.buildmessage(inner);
    return Buffer.from(text.slice(0, MAX_REPORT), 'latin1').toString('utf8');
  } catch {
    return leafText(token);
  }
}

function contentOf(token: mime.Token): string {
  try {
    return mime.getproperty(token, 'content').toLowerCase();
  } catch {
    return 'text/plain';
  }
}

function partsOf(token: mime.Token): mime.Token[] {
  try {
    return mime.getproperty(token, 'parts');
  } catch {
    return [];
  }
}

/** Walks a parsed message (depth first, bounded) and sorts its parts. */
export function flatten(top: mime.Token): Flat {
  const flat: Flat = { header: fieldsOf(top), texts: [], reports: [], feedback: [], original: null, content: contentOf(top) };
  let visited = 0;
  // Prose and reports have budgets of their own, so that a long notice cannot crowd out the status fields.
  const kept = new Map<string[], number>();
  const keep = (list: string[], text: string): void => {
    const budget = list === flat.texts ? MAX_TEXTS : MAX_REPORTS;
    const used = kept.get(list) ?? 0;
    if (used >= budget) return;
    const piece = text.slice(0, budget - used);
    kept.set(list, used + piece.length);
    list.push(piece);
  };
  const visit = (token: mime.Token, depth: number): void => {
    if (visited >= MAX_PARTS || depth > MAX_DEPTH) return;
    visited += 1;
    const content = contentOf(token);
    if (content.startsWith('multipart/')) {
      const parts = partsOf(token);
      // A multipart without delimiters stays a leaf: its body is still the report's text.
      if (parts.length === 0) keep(flat.texts, leafText(token));
      for (const part of parts) visit(part, depth + 1);
      return;
    }
    if (content === 'message/delivery-status' || content === 'message/global-delivery-status') {
      keep(flat.reports, groupsText(token));
    } else if (content === 'message/feedback-report') {
      keep(flat.feedback, groupsText(token));
    } else if (content === 'message/rfc822' || content === 'message/global' || content === 'message/rfc822-headers') {
      if (flat.original === null) {
        const inner = partsOf(token)[0];
        if (inner !== undefined) flat.original = fieldsOf(inner);
      }
    } else if (content === 'text/rfc822-headers' || content === 'message/global-headers') {
      if (flat.original === null) flat.original = headerText(leafText(token));
    } else if (content === 'text/html') {
      keep(flat.texts, htmlText(leafText(token)));
    } else if (content.startsWith('text/') || depth === 0) {
      keep(flat.texts, leafText(token));
    }
  };
  visit(top, 0);
  return flat;
}

/** Reads header fields from text (unfolding), up to the first empty line. */
export function headerText(text: string): Fields {
  const fields: Fields = new Map();
  let name = '';
  let value = '';
  const flush = (): void => {
    if (name === '') return;
    const list = fields.get(name);
    if (list) list.push(value.trim());
    else fields.set(name, [value.trim()]);
    name = '';
  };
  let start = 0;
  let lines = 0;
  while (start < text.length && lines < 2000) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    lines += 1;
    if (line.trim() === '') {
      if (name !== '' || fields.size > 0) break;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && name !== '') {
      value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    flush();
    if (colon > 0 && colon < 80 && !line.slice(0, colon).includes(' ')) {
      name = line.slice(0, colon).toLowerCase();
      value = line.slice(colon + 1);
    }
  }
  flush();
  return fields;
}
