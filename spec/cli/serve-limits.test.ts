/**
 * Regression: the capture server faces the network. A client that dribbles a
 * byte now and then, opens thousands of connections, names a million
 * recipients or sends a message past --size must not hold the server's
 * memory, disk or sockets without bound.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describeMessage } from '../../cli/commands/serve';
import { deliver, ensureMaildir, TooLargeError } from '../../cli/maildir';
import { startCaptureServer } from '../../cli/serve';
import type { CaptureServer } from '../../cli/serve';
import { ensureBuilt, run } from './helpers';

beforeAll(() => ensureBuilt(), 180000);

let dir: string;
let server: CaptureServer | undefined;
const sockets: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-limits-'));
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A raw client: every reply line it has read so far, and whether the server closed it. */
function client(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let text = '';
    const opened = Date.now();
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now() - opened)));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, text: () => text, closed }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

describe('a client that dribbles', () => {
  it('is closed when a line takes longer than commandSecs, however often a byte arrives', async () => {
    server = await startCaptureServer({ dir, commandSecs: 1 });
    const slow = await client(server.port);
    await until(() => slow.text().startsWith('220'));
    let stop = false;
    void (async () => {
      for (const byte of 'EHLO slowloris.example') {
        if (stop || slow.socket.destroyed) return;
        slow.socket.write(byte);
        await sleep(150);
      }
    })();
    const after = await slow.closed;
    stop = true;
    expect(after).toBeLessThan(3500);
  });

  it('is not closed while each of its lines arrives in time', async () => {
    server = await startCaptureServer({ dir, commandSecs: 1 });
    const steady = await client(server.port);
    await until(() => steady.text().startsWith('220'));
    for (let i = 0; i < 5; i++) {
      steady.socket.write('NOOP\r\n');
      await sleep(500);
    }
    expect(steady.socket.destroyed).toBe(false);
    expect(steady.text().match(/^250 /gm)?.length).toBe(5);
  });
});

describe('connections and recipients', () => {
  it('answers a connection past maxClients with 421', async () => {
    server = await startCaptureServer({ dir, maxClients: 2 });
    const held = [await client(server.port), await client(server.port)];
    await until(() => held.every((c) => c.text().startsWith('220')));
    const extra = await client(server.port);
    await extra.closed;
    expect(extra.text()).toMatch(/^421 /);
  });

  it('answers a recipient past maxRecipients with 452 4.5.3 and keeps the first ones', async () => {
    server = await startCaptureServer({ dir, maxRecipients: 3 });
    const c = await client(server.port);
    await until(() => c.text().startsWith('220'));
    c.socket.write('EHLO test\r\nMAIL FROM:<a@example.org>\r\n');
    await until(() => /250 [^\r\n]*\r\n250 /.test(c.text().replace(/250-[^\r\n]*\r\n/g, '')));
    for (let i = 1; i <= 4; i++) c.socket.write(`RCPT TO:<r${i}@example.org>\r\n`);
    await until(() => /452 /.test(c.text()));
    expect(c.text()).toMatch(/452 4\.5\.3 too many recipients \(at most 3 per message\)/);
    // Four 250s: MAIL FROM and the first three recipients.
    expect(c.text().match(/^250 Accepted/gm)?.length).toBe(4);
  });

  it('prints a bounded line for a message with many recipients', () => {
    const to = Array.from({ length: 100000 }, (_, i) => `r${i}@example.org`);
    const text = describeMessage({ path: '/m/new/1.eml', from: 'a@example.org', to, size: 10, secure: false, client: 'c' }, new Date(0));
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toContain('<r9@example.org> and 99990 more');
  });
});

describe('--size', () => {
  it('keeps a message past the limit off the disk: 552, nothing in new/ or tmp/', async () => {
    server = await startCaptureServer({ dir, size: 1000 });
    const c = await client(server.port);
    await until(() => c.text().startsWith('220'));
    c.socket.write('EHLO test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n');
    await until(() => /354 /.test(c.text()));
    const line = `${'x'.repeat(998)}\r\n`;
    for (let i = 0; i < 2000; i++) c.socket.write(line);
    c.socket.write('.\r\n');
    await until(() => /^552 /m.test(c.text()));
    expect(readdirSync(join(dir, 'new'))).toEqual([]);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('stores at most the limit and refuses one byte more', async () => {
    ensureMaildir(dir);
    const path = await deliver(dir, Readable.from([Buffer.alloc(600, 0x61), Buffer.alloc(400, 0x62)]), 1000);
    expect(readdirSync(join(dir, 'new'))).toHaveLength(1);
    expect(path.startsWith(join(dir, 'new'))).toBe(true);
    await expect(deliver(dir, Readable.from([Buffer.alloc(1000, 0x61), Buffer.alloc(1, 0x62)]), 1000)).rejects.toBeInstanceOf(TooLargeError);
    expect(readdirSync(join(dir, 'new'))).toHaveLength(1);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });
});

describe('stopping', () => {
  it('closes within two seconds while a client stalls in DATA', async () => {
    server = await startCaptureServer({ dir });
    const c = await client(server.port);
    await until(() => c.text().startsWith('220'));
    c.socket.write('EHLO test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: stalled\r\n');
    await until(() => /354 /.test(c.text()));
    const started = Date.now();
    await server.close();
    server = undefined;
    expect(Date.now() - started).toBeLessThan(2500);
    await c.closed;
  });
});

describe('tclmail serve --host ""', () => {
  it('is a usage error, not a server on every interface', async () => {
    const result = await run(['serve', '--host', '', '--port', '0', '--dir', dir]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/--host "" would listen on every interface/);
  });

  it('is refused by startCaptureServer too', async () => {
    await expect(startCaptureServer({ dir, host: '' })).rejects.toThrow(/empty host would listen on every interface/);
  });
});
