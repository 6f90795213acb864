/**
 * The inbox's JSON API, against `tclmail serve --web` run as a user runs it:
 * the list newest first with the envelope (a Bcc recipient included), the
 * detail, the raw bytes, delete, bad ids, the security headers, the token
 * (forced with --web-token, since tests bind loopback only), the Host check,
 * and a restart that lists what the folder already holds.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mime from '../../../mime';
import { sendmessage } from '../../../smtp';
import { rsaKey } from '../../smtp/dkim/support';
import { ensureBuilt, run, stop } from '../helpers';
import { attachmentMessage, htmlMessage, send, startServeWeb, textMessage } from './support';
import type { ServeWeb } from './support';

let dir: string;
let server: ServeWeb | undefined;

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-web-api-'));
});
afterEach(async () => {
  if (server) await stop(server.child);
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request with node:http (fetch cannot set Host). */
function call(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const json = (answer: Answer): any => JSON.parse(answer.body.toString('utf8'));

async function waitForCount(origin: string, count: number, auth: Record<string, string> = {}): Promise<any[]> {
  for (let i = 0; i < 100; i++) {
    const list = json(await call(`${origin}/api/messages`, { headers: auth }));
    if (list.length === count) return list;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the inbox never held ${count} messages`);
}

describe('tclmail serve --web: the JSON API', () => {
  it('lists newest first with the envelope, gives detail and raw bytes, deletes, and refuses bad ids', async () => {
    server = await startServeWeb(dir);
    const { origin, smtpPort } = server;
    expect(server.url).toBe(`${origin}/`);
    await send(smtpPort, textMessage('First', 'one'), ['bob@example.net', 'hidden@example.org']);
    const payload = randomBytes(2000);
    await send(smtpPort, attachmentMessage('Second', 'data.bin', payload));
    await send(smtpPort, htmlMessage('Third', '<p>three</p>'));

    const list = await waitForCount(origin, 3);
    expect(list.map((m: any) => m.subject)).toEqual(['Third', 'Second', 'First']);
    expect(list[2]).toMatchObject({ from: 'Ann <ann@example.com>', to: 'bob@example.net', attachments: 0, mailFrom: 'sender@example.com', rcptTo: ['bob@example.net', 'hidden@example.org'] });
    expect(list[1].attachments).toBe(1);
    for (const m of list) {
      expect(m.id).toMatch(/^[0-9a-f]{16}$/);
      expect(Number.isNaN(Date.parse(m.date))).toBe(false);
      expect(m.size).toBeGreaterThan(0);
    }
    const page = await call(`${origin}/api/messages?limit=1&offset=1`);
    expect(page.headers['x-total-count']).toBe('3');
    expect(json(page).map((m: any) => m.subject)).toEqual(['Second']);
    const found = await call(`${origin}/api/messages?q=SECOND`);
    expect(found.headers['x-total-count']).toBe('1');
    expect(json(found).map((m: any) => m.subject)).toEqual(['Second']);
    expect(json(await call(`${origin}/api/messages?q=hidden@example.org`)).map((m: any) => m.subject)).toEqual(['First']);

    const first = json(await call(`${origin}/api/messages/${list[2].id}`));
    expect(first.envelope).toMatchObject({ from: 'sender@example.com', to: ['bob@example.net', 'hidden@example.org'], secure: false });
    expect(first.headers).toEqual(expect.arrayContaining([['Subject', 'First'], ['To', 'bob@example.net']]));
    expect(first.tree).toMatchObject({ section: '', content: 'text/plain', params: { charset: 'utf-8' } });
    expect(first.text).toBe('one\r\n'); // the wire ends the last line
    expect(first.dkim).toEqual([]);

    const second = json(await call(`${origin}/api/messages/${list[1].id}`));
    expect(second.attachments).toEqual([{ section: '2', filename: 'data.bin', contentType: 'application/octet-stream', size: 2000 }]);
    const part = await call(`${origin}/api/messages/${list[1].id}/parts/2`);
    expect(part.status).toBe(200);
    expect(part.headers['content-type']).toBe('application/octet-stream');
    expect(part.headers['content-disposition']).toBe(`attachment; filename="data.bin"; filename*=UTF-8''data.bin`);
    expect(part.body.equals(payload)).toBe(true);

    const files = readdirSync(join(dir, 'new'));
    const raw = await call(`${origin}/api/messages/${list[0].id}/raw`);
    expect(raw.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(raw.headers['x-content-type-options']).toBe('nosniff');
    expect(files.map((f) => readFileSync(join(dir, 'new', f))).some((bytes) => bytes.equals(raw.body))).toBe(true);
    const html = await call(`${origin}/api/messages/${list[0].id}/html`);
    expect(html.headers['content-security-policy']).toMatch(/default-src 'none'.*sandbox/);
    expect(html.body.toString().trimEnd()).toBe('<p>three</p>');

    expect((await call(`${origin}/api/messages/${list[1].id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${origin}/api/messages/${list[1].id}`)).status).toBe(404);
    expect((await call(`${origin}/api/messages/${list[1].id}`, { method: 'DELETE' })).status).toBe(404);
    expect(readdirSync(join(dir, 'new'))).toHaveLength(2);
    expect(json(await call(`${origin}/api/messages`)).map((m: any) => m.subject)).toEqual(['Third', 'First']);

    expect((await call(`${origin}/api/messages/..%2F..%2Fetc%2Fpasswd`)).status).toBe(400);
    expect((await call(`${origin}/api/messages/${list[0].id}/parts/0`)).status).toBe(400);
    expect((await call(`${origin}/api/messages/${list[0].id}/parts/9`)).status).toBe(404);
    expect((await call(`${origin}/api/messages/0123456789abcdef`)).status).toBe(404);
    expect((await call(`${origin}/api/messages?limit=0`)).status).toBe(400);

    const home = await call(`${origin}/`);
    expect(home.headers['content-security-policy']).toContain("script-src 'self'");
    expect(home.headers['x-content-type-options']).toBe('nosniff');
    // DNS rebinding: a name that is not this server's is refused.
    expect((await call(`${origin}/api/messages`, { headers: { host: `evil.example:${new URL(origin).port}` } })).status).toBe(421);
  });

  it('shows images sent inside the message (cid:) as data: URLs, the only images the HTML body may load', async () => {
    server = await startServeWeb(dir);
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    const related = mime.initialize({
      canonical: 'multipart/related',
      parts: [
        mime.initialize({ canonical: 'text/html', param: [['charset', 'utf-8']], string: '<p><img src="cid:logo@example.com" alt="logo"> <img src="cid:missing@example.com"></p>' }),
        mime.initialize({ canonical: 'image/png', encoding: 'base64', string: png, header: [['Content-ID', '<logo@example.com>']] }),
      ],
      header: [['From', 'ann@example.com'], ['To', 'bob@example.net'], ['Subject', 'Logo']],
    });
    await send(server.smtpPort, related);
    const [message] = await waitForCount(server.origin, 1);
    const html = (await call(`${server.origin}/api/messages/${message.id}/html`)).body.toString();
    expect(html).toContain(`<img src="data:image/png;base64,${png.toString('base64')}" alt="logo">`);
    expect(html).toContain('<img src="cid:missing@example.com">');
  });

  it('with --web-token asks for the printed token (query or Bearer) on everything but the static files', async () => {
    server = await startServeWeb(dir, ['--web-token']);
    const { origin, url } = server;
    const token = new URL(url).searchParams.get('token');
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await send(server.smtpPort, textMessage('Secret', 'body'));
    await waitForCount(origin, 1, { authorization: `Bearer ${token}` });

    const denied = await call(`${origin}/api/messages`);
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer');
    expect(json(denied).error).toContain('token is required');
    expect((await call(`${origin}/`)).status).toBe(401);
    expect((await call(`${origin}/api/events`)).status).toBe(401);
    expect((await call(`${origin}/api/messages?token=${token}x`)).status).toBe(401);
    expect((await call(`${origin}/api/messages`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect(json(await call(`${origin}/api/messages?token=${token}`))[0].subject).toBe('Secret');
    expect((await call(url)).status).toBe(200);
    expect((await call(`${origin}/app.js`)).status).toBe(200);
    expect((await call(`${origin}/app.css`)).status).toBe(200);
  });

  it('after a restart lists what the folder holds, with envelopes from the log and without for files put there by hand', async () => {
    server = await startServeWeb(dir);
    await send(server.smtpPort, textMessage('Before', 'x'), ['bob@example.net', 'bcc@example.org']);
    const [before] = await waitForCount(server.origin, 1);
    await stop(server.child);
    const stored = readdirSync(join(dir, 'new'))[0];
    copyFileSync(join(dir, 'new', stored), join(dir, 'new', 'by-hand.eml'));

    server = await startServeWeb(dir);
    const list = json(await call(`${server.origin}/api/messages`));
    expect(list).toHaveLength(2);
    const logged = list.find((m: any) => m.id === before.id);
    expect(logged.rcptTo).toEqual(['bob@example.net', 'bcc@example.org']);
    const byHand = json(await call(`${server.origin}/api/messages/${list.find((m: any) => m.id !== before.id).id}`));
    expect(byHand.subject).toBe('Before');
    expect(byHand.envelope).toBeNull();
  });

  it('with --dkim-keys verifies a signature by a known key and reports one by an unknown key as not verified', async () => {
    const known = rsaKey();
    const other = rsaKey();
    const keysFile = join(dir, 'keys.txt');
    writeFileSync(keysFile, `sel._domainkey.example.com ${known.record}\n`);
    server = await startServeWeb(dir, ['--dkim-keys', keysFile]);
    for (const [subject, selector, key] of [['Known key', 'sel', known], ['Unknown key', 'other', other]] as const) {
      const token = textMessage(subject, 'signed body');
      try {
        await sendmessage(token, { servers: ['127.0.0.1'], ports: [server.smtpPort], dkim: { domain: 'example.com', selector, privateKey: key.pem } });
      } finally {
        mime.finalize(token, { subordinates: 'all' });
      }
    }
    const list = await waitForCount(server.origin, 2);
    const dkimOf = async (subject: string) => json(await call(`${server!.origin}/api/messages/${list.find((m: any) => m.subject === subject).id}`)).dkim;
    expect(await dkimOf('Known key')).toEqual([expect.objectContaining({ domain: 'example.com', selector: 'sel', algorithm: 'rsa-sha256', result: 'pass' })]);
    expect(await dkimOf('Unknown key')).toEqual([expect.objectContaining({ selector: 'other', result: 'unverified', bodyHash: 'pass' })]);
  });

  it('refuses a malformed --web and the inbox flags without --web', async () => {
    const bad = await run(['serve', '--dir', dir, '--web', 'localhost:99999']);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('--web expects [HOST:]PORT');
    const alone = await run(['serve', '--dir', dir, '--web-token']);
    expect(alone.status).toBe(64);
    expect(alone.stderr).toContain('add --web [HOST:]PORT');
    // The web port is taken: the program says so and stops, SMTP server included.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const busy = await run(['serve', '--dir', dir, '--port', '0', '--web', `127.0.0.1:${(taken.address() as AddressInfo).port}`]);
      expect(busy.status).toBe(2);
      expect(busy.stderr).toMatch(/tclmail serve: cannot start: .*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const missing = await run(['serve', '--dir', dir, '--web', '0', '--dkim-keys', join(dir, 'absent.txt')]);
    expect(missing.status).toBe(64);
    expect(missing.stderr).toContain('--dkim-keys');
  });
});
