/**
 * `tclmail inspect FILE.eml`: the MIME tree of a message as the mime module's
 * parse mode sees it: each part's content type and parameters, its transfer
 * encoding and size, and its header fields with encoded words decoded.
 */
import { libmime } from '../../mime/codec/libraries';
import * as mime from '../../mime';
import { EXIT, line, parseFlags, printable } from '../args';
import type { Command, Io } from '../args';
import { requireReadableFile } from '../compose';

const HELP = `Usage: tclmail inspect [--json] FILE.eml

Prints the MIME tree of a message: for each part its section number (as IMAP
numbers them), content type and parameters, transfer encoding and size, then
its header fields with RFC 2047 encoded words decoded.

Options:
  --json       print the tree as JSON instead
  -h, --help   show this help

Example:
  tclmail inspect mail/new/1700000000.M1P42Q1R0a1b2c3d.host.eml
`;

type Token = mime.Token;

/** One part of the tree, as printed with --json. */
export interface PartTree {
  /** IMAP section number: '' for the message itself, then 1, 2, 1.1 ... */
  section: string;
  content: string;
  params: Record<string, string>;
  /** The declared Content-Transfer-Encoding, '' when none was declared. */
  encoding: string;
  size: number;
  /** Header fields other than the MIME ones shown above, values decoded. */
  headers: Array<[name: string, value: string]>;
  parts: PartTree[];
}

// Shown as content, params and encoding already.
const MIME_FIELDS = new Set(['content-type', 'content-transfer-encoding', 'mime-version']);

function quoteParam(value: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value) ? value : JSON.stringify(value);
}

/** A field value for reading: encoded words decoded, and Content-Disposition's RFC 2231 parameters too. */
function decode(name: string, value: string): string {
  try {
    if (name.toLowerCase() === 'content-disposition') {
      const parsed = libmime().parseHeaderValue(value);
      const params = Object.entries(parsed.params).map(([k, v]) => `; ${k}=${quoteParam(libmime().decodeWords(v))}`);
      return `${parsed.value}${params.join('')}`;
    }
    return mime.field_decode(value);
  } catch {
    return value; // an undecodable word is shown as it stands
  }
}

/** Reads the tree under `token`. */
export function treeOf(token: Token, section = ''): PartTree {
  const property = mime.getproperty(token);
  const headers: Array<[string, string]> = [];
  for (const [name, values] of Object.entries(mime.getheader(token))) {
    if (MIME_FIELDS.has(name.toLowerCase())) continue;
    for (const value of values) headers.push([name, decode(name, value)]);
  }
  const children = property.parts ?? [];
  return {
    section,
    content: property.content,
    params: { ...property.params },
    encoding: property.encoding,
    size: property.size,
    headers,
    parts: children.map((child, i) => treeOf(child, section === '' ? String(i + 1) : `${section}.${i + 1}`)),
  };
}

/** The text form: one line per part, indented by depth, its fields beneath it; the message's own text made printable. */
export function renderTree(tree: PartTree, out: (text: string) => void, depth = 0): void {
  const indent = '  '.repeat(depth);
  const params = Object.entries(tree.params).map(([k, v]) => `; ${k}=${quoteParam(v)}`).join('');
  const detail = [tree.encoding, `${tree.size} bytes`].filter((s) => s !== '').join(', ');
  out(printable(`${indent}${tree.section === '' ? 'message' : tree.section} ${tree.content}${params} (${detail})`));
  for (const [name, value] of tree.headers) {
    // A decoded value may hold line breaks (folding kept by the parser); one line per field reads better.
    out(printable(`${indent}    ${name}: ${value.replace(/\r?\n[ \t]*/g, ' ')}`));
  }
  for (const part of tree.parts) renderTree(part, out, depth + 1);
}

export const inspect: Command = {
  name: 'inspect',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags, args } = parseFlags(argv, { json: { type: 'boolean' } }, { min: 1, max: 1 });
    const file = args[0];
    requireReadableFile('', file);
    let token: Token;
    try {
      token = mime.initialize({ file });
    } catch (error) {
      line(io.stderr, `tclmail inspect: ${file}: ${(error as Error).message}`);
      return EXIT.FAILED;
    }
    try {
      const tree = treeOf(token);
      if (flags.json === true) line(io.stdout, JSON.stringify(tree, null, 2));
      else renderTree(tree, (text) => line(io.stdout, text));
      return EXIT.OK;
    } finally {
      mime.finalize(token, { subordinates: 'all' });
    }
  },
};
