/**
 * What the inbox and the dashboard share: where a web server may listen, the
 * access token, the security headers every answer carries, and server-sent
 * events. Node's own `http` only; no framework.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { UsageError } from '../args';

/** Where a web page listens: `[HOST:]PORT`, with `[v6]:PORT` for IPv6. */
export interface Listen {
  host: string;
  port: number;
}

/**
 * Reads `--web [HOST:]PORT`. The host defaults to 127.0.0.1: mail and
 * campaigns are private, so a wider interface must be named.
 */
export function parseListen(option: string, text: string): Listen {
  const match = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  if (!match || Number(match[2]) > 65535) {
    throw new UsageError(`--${option} expects [HOST:]PORT such as 8025 or 127.0.0.1:8025, not ${JSON.stringify(text)}`);
  }
  const host = match[1] === undefined ? '127.0.0.1' : match[1].replace(/^\[|\]$/g, '');
  return { host, port: Number(match[2]) };
}

/** True for the loopback interface (127.0.0.0/8, ::1, localhost): only this machine can connect. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** A fresh access token: 128 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(16).toString('base64url');
}

/** Compares in constant time: both sides are hashed first so their lengths do not leak either. */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request offers: `Authorization: Bearer T` or `?token=T`. */
function offeredToken(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) return match[1];
  }
  return url.searchParams.get('token') ?? undefined;
}

/** The headers every answer carries: no sniffing, no framing by others, no referrer leaks. */
export function baseHeaders(contentType: string, csp = "default-src 'none'; frame-ancestors 'none'"): Record<string, string> {
  return {
    'content-type': contentType,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-resource-policy': 'same-origin',
    'content-security-policy': csp,
  };
}

/** The page's own policy: its script and style only, data from its own origin. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The head both pages share: their own stylesheet and deferred script as
 * files, never inline, so that {@link PAGE_CSP} lets them run.
 */
export function pageHead(title: string, css: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${css}">
<script src="${script}" defer></script>
</head>
`;
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, baseHeaders('application/json; charset=utf-8'));
  response.end(JSON.stringify(value));
}

export function sendError(response: ServerResponse, status: number, message: string): void {
  sendJson(response, status, { error: message });
}

export function sendBody(response: ServerResponse, contentType: string, body: string | Buffer, extra: Record<string, string> = {}, csp?: string): void {
  response.writeHead(200, { ...baseHeaders(contentType, csp), 'content-length': String(Buffer.byteLength(body)), ...extra });
  response.end(body);
}

/** A set of open event streams; `send` writes one event to each. */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();

  open(request: IncomingMessage, response: ServerResponse, first?: { event: string; data: unknown }): void {
    response.writeHead(200, { ...baseHeaders('text/event-stream; charset=utf-8'), connection: 'keep-alive' });
    // A comment line at once: proxies and the browser see the stream start.
    response.write(': open\n\n');
    if (first) response.write(frame(first.event, first.data));
    this.clients.add(response);
    request.on('close', () => this.clients.delete(response));
  }

  send(event: string, data: unknown): void {
    const text = frame(event, data);
    for (const client of this.clients) client.write(text);
  }

  get size(): number {
    return this.clients.size;
  }

  closeAll(): void {
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw line breaks, so one data line carries the whole value.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A handler for one request; `url` is parsed, the token and host already checked. */
export type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;

export interface WebServer {
  host: string;
  port: number;
  /** The token the server asks for, when it asks for one. */
  token?: string;
  /** The address to open, token included. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on `listen` that checks every request before `handle`
 * sees it: the Host header must name this server (a page elsewhere cannot
 * reach it through DNS rebinding), and when a token is set, paths other than
 * `publicPaths` must carry it.
 */
export async function startWebServer(
  listen: Listen,
  options: { token?: string; publicPaths: ReadonlySet<string>; onClose?: () => void },
  handle: Handler,
): Promise<WebServer> {
  const token = options.token;
  let port = listen.port;
  const server: Server = createServer((request, response) => {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      sendError(response, 400, 'bad request target');
      return;
    }
    if (!hostAllowed(request.headers.host, listen.host, port)) {
      sendError(response, 421, 'this server answers only to the address it listens on');
      return;
    }
    if (token !== undefined && !options.publicPaths.has(url.pathname)) {
      const offered = offeredToken(request, url);
      if (offered === undefined || !sameToken(offered, token)) {
        response.setHeader('www-authenticate', 'Bearer');
        sendError(response, 401, 'a token is required: open the address printed at start (…?token=…) or send Authorization: Bearer TOKEN');
        return;
      }
    }
    Promise.resolve(handle(request, response, url)).catch((error: Error) => {
      if (!response.headersSent) sendError(response, 500, error.message);
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address !== null && typeof address === 'object') port = address.port;
  const hostPart = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  let closing: Promise<void> | undefined;
  return {
    host: listen.host,
    port,
    ...(token !== undefined ? { token } : {}),
    url: `http://${hostPart}:${port}/${token !== undefined ? `?token=${token}` : ''}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        options.onClose?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Bound to loopback, the Host header must name loopback (an address or
 * `localhost`) and this port: a page elsewhere that rebinds its own name to
 * 127.0.0.1 is refused. Beyond loopback any name may reach the server (the
 * machine's names are not known here); the token guards it there.
 */
function hostAllowed(header: string | undefined, bound: string, port: number): boolean {
  if (header === undefined) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(header);
  if (!match || (match[2] !== undefined && Number(match[2]) !== port)) return false;
  const name = match[1].replace(/^\[|\]$/g, '').toLowerCase();
  return !isLoopback(bound) || isLoopback(name);
}
