/**
 * One message opened: its part tree (the tree `tclmail inspect` prints), the
 * text and HTML bodies, the attachments by IMAP section number, and DKIM. The
 * file is parsed with the mime module each time it is opened and the tokens
 * are released at once, so the server holds no parsed message.
 */
import * as mime from '../../mime';
import { treeOf } from '../commands/inspect';
import type { PartTree } from '../commands/inspect';
import { verifyDkim } from './dkim';
import type { DkimKeys, DkimResult } from './dkim';

/** An attachment as the detail lists it; fetch it at `/api/messages/{id}/parts/{section}`. */
export interface Attachment {
  section: string;
  filename: string;
  contentType: string;
  /** Decoded octets. */
  size: number;
}

/** What `GET /api/messages/{id}` adds to the summary and envelope. */
export interface Detail {
  /** The top-level header fields, values decoded, in order. */
  headers: Array<[string, string]>;
  tree: PartTree;
  /** The first text/plain body that is not an attachment, decoded. */
  text?: string;
  /** The section of the first text/html body that is not an attachment (served at `.../html`). */
  htmlSection?: string;
  attachments: Attachment[];
  dkim: DkimResult[];
}

interface Leaf {
  token: mime.Token;
  tree: PartTree;
}

function leaves(token: mime.Token, tree: PartTree, out: Leaf[] = []): Leaf[] {
  const parts = mime.getproperty(token).parts ?? [];
  if (parts.length === 0) out.push({ token, tree });
  parts.forEach((part, i) => leaves(part, tree.parts[i], out));
  return out;
}

function dispositionOf(tree: PartTree): string {
  const field = tree.headers.find(([name]) => name.toLowerCase() === 'content-disposition');
  return field ? field[1] : '';
}

/** The file name a part offers (Content-Disposition's filename, else Content-Type's name), or ''. */
function filenameOf(tree: PartTree): string {
  const match = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(dispositionOf(tree));
  if (match) return (match[1] ?? match[2] ?? '').replace(/\\(.)/g, '$1').trim();
  return tree.params.name ?? '';
}

function isAttachment(tree: PartTree): boolean {
  return /^\s*attachment/i.test(dispositionOf(tree)) || filenameOf(tree) !== '';
}

/** Parses `bytes` and calls `use` with its tokens; they are released however `use` ends. */
function withMessage<T>(bytes: Buffer, use: (token: mime.Token, tree: PartTree) => T): T {
  const token = mime.initialize({ string: bytes });
  try {
    return use(token, treeOf(token));
  } finally {
    mime.finalize(token, { subordinates: 'all' });
  }
}

function bodyText(token: mime.Token): string {
  const body = mime.getbody(token, { decode: true });
  return typeof body === 'string' ? body : body.toString('utf8');
}

/** Reads a message for the detail view. */
export function describe(bytes: Buffer, keys: DkimKeys): Detail {
  return withMessage(bytes, (token, tree) => {
    const all = leaves(token, tree);
    const detail: Detail = { headers: tree.headers, tree, attachments: [], dkim: verifyDkim(bytes, keys) };
    for (const leaf of all) {
      const { content, section } = leaf.tree;
      if (isAttachment(leaf.tree)) {
        let size = 0;
        try {
          size = (mime.getbody(leaf.token) as Buffer).length;
        } catch {
          // an undecodable body still appears in the list, with no size
        }
        detail.attachments.push({ section: section === '' ? '1' : section, filename: filenameOf(leaf.tree), contentType: content, size });
      } else if (content === 'text/plain' && detail.text === undefined) {
        try {
          detail.text = bodyText(leaf.token);
        } catch (error) {
          detail.text = `(the body could not be decoded: ${(error as Error).message})`;
        }
      } else if (content === 'text/html' && detail.htmlSection === undefined) {
        detail.htmlSection = section === '' ? '1' : section;
      }
    }
    return detail;
  });
}

/**
 * The leaf at `section` ('1' is the message itself when it is not multipart):
 * its decoded bytes, content type and file name; undefined when there is none.
 */
export function partAt(bytes: Buffer, section: string): { body: Buffer; contentType: string; filename: string; text?: string } | undefined {
  return withMessage(bytes, (token, tree) => {
    const leaf = leaves(token, tree).find((l) => (l.tree.section === '' ? '1' : l.tree.section) === section);
    if (!leaf) return undefined;
    const body = mime.getbody(leaf.token) as Buffer;
    const textual = leaf.tree.content.startsWith('text/');
    return { body, contentType: leaf.tree.content, filename: filenameOf(leaf.tree), ...(textual ? { text: bodyText(leaf.token) } : {}) };
  });
}

/** The largest embedded image turned into a data: URL (larger ones stay unresolved). */
const INLINE_IMAGE_CAP = 2 * 1024 * 1024;

/**
 * The HTML body with its `cid:` references (images sent inside the message,
 * RFC 2392) replaced by `data:` URLs, the one kind of image the body's
 * policy lets load. Only image parts are inlined; other references stay as
 * they are and show nothing.
 */
export function htmlWithInlineImages(bytes: Buffer, html: string): string {
  if (!/cid:/i.test(html)) return html;
  const images = withMessage(bytes, (token, tree) => {
    const found = new Map<string, string>();
    for (const leaf of leaves(token, tree)) {
      const id = leaf.tree.headers.find(([name]) => name.toLowerCase() === 'content-id')?.[1];
      if (id === undefined || !/^image\/[a-z0-9.+-]+$/i.test(leaf.tree.content)) continue;
      const body = mime.getbody(leaf.token) as Buffer;
      if (body.length <= INLINE_IMAGE_CAP) found.set(id.trim().replace(/^<|>$/g, '').toLowerCase(), `data:${leaf.tree.content};base64,${body.toString('base64')}`);
    }
    return found;
  });
  return html.replace(/cid:([^"'\s)>]+)/gi, (whole, id: string) => {
    let key = id;
    try {
      key = decodeURIComponent(id);
    } catch {
      // kept as written
    }
    return images.get(key.toLowerCase()) ?? whole;
  });
}

/** Section numbers as the API takes them: `1`, `2.1`, ... */
export const SECTION_PATTERN = /^[1-9]\d{0,3}(?:\.[1-9]\d{0,3}){0,15}$/;
