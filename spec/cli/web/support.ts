/**
 * For the inbox tests: `tclmail serve --web` as a child process on free
 * loopback ports, messages sent to it with tclmail's own sendmessage, and a
 * plain HTTP server that records every request (the "remote" images).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import * as mime from '../../../mime';
import { sendmessage } from '../../../smtp';
import { lines, start } from '../helpers';

export interface ServeWeb {
  child: ChildProcess;
  smtpPort: number;
  /** The printed address, `http://127.0.0.1:PORT/` (with `?token=` when one is asked for). */
  url: string;
  /** The address without the token. */
  origin: string;
  out: ReturnType<typeof lines>;
}

/** Starts `tclmail serve --dir DIR --port 0 --web 127.0.0.1:0 ...extra` and waits for both addresses. */
export async function startServeWeb(dir: string, extra: string[] = []): Promise<ServeWeb> {
  const child = start(['serve', '--dir', dir, '--port', '0', '--web', '127.0.0.1:0', ...extra]);
  const out = lines(child);
  const [, smtpPort] = await out.waitFor(/^listening on 127\.0\.0\.1:(\d+),/);
  const [, url] = await out.waitFor(/^web: (http:\/\/127\.0\.0\.1:\d+\/\S*)$/);
  return { child, smtpPort: Number(smtpPort), url, origin: new URL(url).origin, out };
}

/** Sends a message token with sendmessage to the capture server; `recipients` overrides the header's (a Bcc). */
export async function send(port: number, token: mime.Token, recipients?: string[]): Promise<void> {
  try {
    const refused = await sendmessage(token, {
      servers: ['127.0.0.1'],
      ports: [port],
      originator: 'sender@example.com',
      ...(recipients ? { recipients } : {}),
    });
    if (refused.length > 0) throw new Error(`refused: ${JSON.stringify(refused)}`);
  } finally {
    mime.finalize(token, { subordinates: 'all' });
  }
}

export function textMessage(subject: string, body: string, to = 'bob@example.net'): mime.Token {
  return mime.initialize({
    canonical: 'text/plain',
    param: [['charset', 'utf-8']],
    string: body,
    header: [['From', 'Ann <ann@example.com>'], ['To', to], ['Subject', subject]],
  });
}

export function htmlMessage(subject: string, html: string): mime.Token {
  const text = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'The text version.' });
  const rich = mime.initialize({ canonical: 'text/html', param: [['charset', 'utf-8']], string: html });
  return mime.initialize({
    canonical: 'multipart/alternative',
    parts: [text, rich],
    header: [['From', 'News <news@example.com>'], ['To', 'bob@example.net'], ['Subject', subject]],
  });
}

export function attachmentMessage(subject: string, filename: string, bytes: Buffer): mime.Token {
  const text = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], string: 'See the attached file.' });
  const file = mime.initialize({
    canonical: 'application/octet-stream',
    encoding: 'base64',
    string: bytes,
    header: [['Content-Disposition', `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`]],
  });
  return mime.initialize({
    canonical: 'multipart/mixed',
    parts: [text, file],
    header: [['From', 'Carl <carl@example.com>'], ['To', 'dora@example.org'], ['Subject', subject]],
  });
}

/** An HTTP server on loopback that answers every request with a 1x1 GIF and records the path. */
export async function startRecorder(): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  const server: Server = createServer((request, response) => {
    hits.push(request.url ?? '');
    response.writeHead(200, { 'content-type': 'image/gif', 'access-control-allow-origin': '*' });
    response.end(gif);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return {
    port,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
