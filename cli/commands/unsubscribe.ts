/**
 * `tclmail unsubscribe --listen [HOST:]PORT --secret-file FILE --suppress FILE`:
 * the receiver of RFC 8058 one-click unsubscribes. A mailbox provider POSTs
 * `List-Unsubscribe=One-Click` to the URL of the message's List-Unsubscribe
 * field; the token in its query (`t`, made by `tclmail bulk --unsubscribe`)
 * is checked in constant time under the secret, and the address it names is
 * appended to the suppression list.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { appendSuppression } from '../../smtp/bulk/suppression';
import { verifyUnsubscribeToken } from '../../smtp/bulk/unsubscribe';
import { EXIT, line, parseFlags, printable, stringFlag, UsageError } from '../args';
import type { Command, Io } from '../args';
import { requireReadableFile } from '../compose';
import { parseListen } from '../web/http';

const HELP = `Usage: tclmail unsubscribe --listen [HOST:]PORT --secret-file FILE --suppress FILE

Answers one-click unsubscribe requests (RFC 8058) for the URL given to
tclmail bulk --unsubscribe: a POST whose body is List-Unsubscribe=One-Click
and whose query carries the token t=... . A valid token (an HMAC of the item
id and the address under the secret, checked in constant time) appends the
address to the suppression list and is answered 200; a bad or missing token
404, another body 400, another method 405. Stop it with SIGINT or SIGTERM.

Options:
  --listen [HOST:]PORT  where to listen (HOST defaults to 127.0.0.1; put a
                        TLS proxy in front for the public https URL; 0 picks
                        a free port)
  --secret-file FILE    the secret given to bulk --unsubscribe-secret-file
  --suppress FILE       the suppression list to append to
  -h, --help            show this help

Output: "listening on http://HOST:PORT/", then one line per unsubscribe:
  TIME unsubscribe ADDRESS ID

Example:
  tclmail unsubscribe --listen 8085 --secret-file unsub.key --suppress suppress.csv
`;

/** The largest request body read (the one-click body is 26 bytes). */
const MAX_BODY = 4096;

function answer(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  // Each request on its own connection: a refused request's body is never read, so the connection cannot serve another.
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close', ...headers });
  response.end(text + '\n');
}

function readBody(request: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(null);
        request.destroy();
        return;
      }
      parts.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', () => resolve(null));
  });
}

/** True when a form body holds `List-Unsubscribe=One-Click` (RFC 8058 section 3.1). */
function isOneClick(body: string): boolean {
  return new URLSearchParams(body).getAll('List-Unsubscribe').includes('One-Click');
}

export const unsubscribe: Command = {
  name: 'unsubscribe',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags } = parseFlags(argv, { listen: { type: 'string' }, 'secret-file': { type: 'string' }, suppress: { type: 'string' } }, { min: 0, max: 0 });
    const listenText = stringFlag(flags, 'listen');
    const secretFile = stringFlag(flags, 'secret-file');
    const suppress = stringFlag(flags, 'suppress');
    if (listenText === undefined || secretFile === undefined || suppress === undefined || suppress === '') {
      throw new UsageError('tclmail unsubscribe needs --listen [HOST:]PORT, --secret-file FILE and --suppress FILE');
    }
    const listen = parseListen('listen', listenText);
    requireReadableFile('--secret-file', secretFile);
    const secret = Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'utf8');
    if (secret.length < 16) throw new UsageError(`--secret-file ${secretFile}: the secret must be at least 16 bytes`);

    const server = createServer((request, response) => {
      void (async () => {
        const url = new URL(request.url ?? '/', 'http://receiver');
        if (request.method !== 'POST') return answer(response, 405, 'one-click unsubscribe takes a POST', { allow: 'POST' });
        const body = await readBody(request);
        if (body === null || !isOneClick(body)) return answer(response, 400, 'expected the body List-Unsubscribe=One-Click');
        const token = url.searchParams.get('t');
        const found = token === null ? null : verifyUnsubscribeToken(secret, token);
        if (found === null) return answer(response, 404, 'no such subscription');
        try {
          appendSuppression(suppress, [{ address: found.address, reason: 'unsubscribe' }]);
        } catch (error) {
          line(io.stderr, printable(`tclmail unsubscribe: ${(error as Error).message}`));
          return answer(response, 500, 'could not record the unsubscribe; try again');
        }
        line(io.stdout, printable(`${new Date().toISOString()} unsubscribe ${found.address} ${found.id}`));
        return answer(response, 200, 'unsubscribed');
      })();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host, () => resolve());
      });
    } catch (error) {
      line(io.stderr, `tclmail unsubscribe: cannot listen on ${listenText}: ${(error as Error).message}`);
      return EXIT.FAILED;
    }
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : listen.port;
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    line(io.stdout, `listening on http://${host}:${port}/`);
    return new Promise<number>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        server.closeAllConnections();
        server.close(() => done(EXIT.OK));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
