/**
 * The inbox's web server: the page, its JSON API and its event stream over an
 * {@link Inbox}. Everything from a message is data to the page (JSON, built
 * into the DOM as text); the HTML body is served alone under a policy that
 * allows no script, no remote load and puts it in an opaque origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import type { CapturedMessage } from '../serve';
import type { Envelope } from './envelopes';
import { EventHub, PAGE_CSP, baseHeaders, isLoopback, newToken, sendBody, sendError, sendJson, startWebServer } from './http';
import type { Listen, WebServer } from './http';
import { Inbox } from './inbox';
import { INBOX_CSS, INBOX_HTML, INBOX_JS } from './inbox-page';
import { SECTION_PATTERN, describe, htmlWithInlineImages, partAt } from './message';
import type { DkimKeys } from './dkim';
import { ID_PATTERN } from './summary';

/** The policy of a message's HTML body: inline styles and data: images only, no script (the sandbox makes its origin opaque). */
const MESSAGE_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; form-action 'none'; sandbox";

export interface InboxWebOptions {
  listen: Listen;
  /** The capture folder (`tmp`, `new`, `cur`). */
  dir: string;
  /** Ask for a token even on loopback (a shared machine). A token is always asked for beyond loopback. */
  requireToken?: boolean;
  /** DKIM keys by DNS name; DNS is never queried. */
  dkimKeys?: DkimKeys;
}

export interface InboxWeb extends WebServer {
  inbox: Inbox;
  /** Tells the inbox about a message the capture server stored (with its envelope as the log recorded it). */
  captured(message: CapturedMessage, envelope?: Envelope): Promise<void>;
}

const PUBLIC = new Set(['/app.js', '/app.css', '/favicon.ico']);
const MESSAGE_PATH = /^\/api\/messages\/([^/]+)(?:\/(raw|html|parts\/([^/]+)))?$/;

/** Starts the inbox page on `listen` over the messages in `dir`. */
export async function startInboxWeb(options: InboxWebOptions): Promise<InboxWeb> {
  const inbox = new Inbox(options.dir);
  inbox.load();
  const hub = new EventHub();
  const keys: DkimKeys = options.dkimKeys ?? new Map();
  const token = options.requireToken === true || !isLoopback(options.listen.host) ? newToken() : undefined;

  const handle = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const method = request.method ?? 'GET';
    if (method === 'GET' && path === '/') return sendBody(response, 'text/html; charset=utf-8', INBOX_HTML, {}, PAGE_CSP);
    if (method === 'GET' && path === '/app.js') return sendBody(response, 'text/javascript; charset=utf-8', INBOX_JS);
    if (method === 'GET' && path === '/app.css') return sendBody(response, 'text/css; charset=utf-8', INBOX_CSS);
    if (method === 'GET' && path === '/api/events') return hub.open(request, response);
    if (method === 'GET' && path === '/api/messages') {
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limitText = url.searchParams.get('limit');
      const limit = limitText === null ? Number.POSITIVE_INFINITY : Number(limitText);
      if (!Number.isInteger(offset) || offset < 0 || (limitText !== null && (!Number.isInteger(limit) || limit < 1))) {
        return sendError(response, 400, 'offset and limit are whole numbers (limit at least 1)');
      }
      const { total, items } = inbox.list(url.searchParams.get('q') ?? '', offset, limit);
      response.writeHead(200, { ...baseHeaders('application/json; charset=utf-8'), 'x-total-count': String(total) });
      response.end(JSON.stringify(items));
      return;
    }
    const match = MESSAGE_PATH.exec(path);
    if (!match) return sendError(response, 404, 'no such page');
    const [, id, sub, section] = match;
    if (!ID_PATTERN.test(id)) return sendError(response, 400, 'a message id is 16 hex digits');
    if (section !== undefined && !SECTION_PATTERN.test(section)) return sendError(response, 400, 'a section is a part number such as 1 or 2.1');
    if (method === 'DELETE' && sub === undefined) {
      if (!(await inbox.remove(id))) return sendError(response, 404, 'no such message');
      hub.send('delete', { id });
      response.writeHead(204, baseHeaders('text/plain'));
      response.end();
      return;
    }
    if (method !== 'GET') return sendError(response, 405, 'only GET, and DELETE on a message');
    const bytes = await inbox.bytes(id);
    const summary = inbox.summary(id);
    if (!bytes || !summary) return sendError(response, 404, 'no such message');
    if (sub === 'raw') return sendBody(response, 'text/plain; charset=utf-8', bytes);
    if (sub === undefined) {
      let detail;
      try {
        detail = describe(bytes, keys);
      } catch (error) {
        return sendJson(response, 200, { ...summary, envelope: inbox.envelope(id) ?? null, error: `the message could not be parsed: ${(error as Error).message}` });
      }
      return sendJson(response, 200, { ...summary, envelope: inbox.envelope(id) ?? null, ...detail });
    }
    if (sub === 'html') {
      const detail = describe(bytes, keys);
      const part = detail.htmlSection !== undefined ? partAt(bytes, detail.htmlSection) : undefined;
      if (!part || part.text === undefined) return sendError(response, 404, 'the message has no HTML body');
      return sendBody(response, 'text/html; charset=utf-8', htmlWithInlineImages(bytes, part.text), {}, MESSAGE_CSP);
    }
    const part = partAt(bytes, section);
    if (!part) return sendError(response, 404, 'no such part');
    // Always a download, never rendered here: the bytes are the sender's.
    return sendBody(response, 'application/octet-stream', part.body, { 'content-disposition': contentDisposition(part.filename || `part-${section}`) });
  };

  const server = await startWebServer(options.listen, { ...(token !== undefined ? { token } : {}), publicPaths: PUBLIC, onClose: () => hub.closeAll() }, handle);
  return {
    ...server,
    inbox,
    async captured(message, envelope) {
      try {
        const summary = await inbox.add(basename(message.path), envelope);
        hub.send('message', summary);
      } catch {
        // the file went before it could be read: nothing to show
      }
    },
  };
}

/** `attachment` with an ASCII fallback name and the real one in RFC 6266 / RFC 8187 form. */
function contentDisposition(filename: string): string {
  const plain = basename(filename.replace(/\\/g, '/')) || 'attachment';
  const fallback = plain.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(plain).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
