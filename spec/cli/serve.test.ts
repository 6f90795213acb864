/**
 * The capture server, driven by a real independent client (nodemailer) and by a
 * raw socket where the exact reply matters.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { simpleParser } from 'mailparser';
import { startCaptureServer } from '../../cli/serve';
import type { CaptureServer, CapturedMessage } from '../../cli/serve';

let dir: string;
let server: CaptureServer | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-serve-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function transport(port: number, extra: Record<string, unknown> = {}) {
  return createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, ...extra });
}

/** Reads replies from a raw socket: resolves with the next complete reply (all its lines). */
function replies(socket: Socket): () => Promise<string> {
  let buffer = '';
  const waiting: Array<(reply: string) => void> = [];
  const ready: string[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      // A reply ends with a line whose fourth character is a space.
      const match = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
      if (!match) break;
      const end = match.index + match[0].length;
      ready.push(buffer.slice(0, end));
      buffer = buffer.slice(end);
    }
    while (ready.length && waiting.length) waiting.shift()!(ready.shift()!);
  });
  return () => new Promise((resolve) => {
    if (ready.length) resolve(ready.shift()!);
    else waiting.push(resolve);
  });
}

describe('startCaptureServer', () => {
  it('listens on 127.0.0.1 and a free port by default', async () => {
    server = await startCaptureServer({ dir });
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.cert).toBeUndefined();
  });

  it('stores a delivered message as an .eml file in new/, leaving tmp/ empty', async () => {
    const seen: CapturedMessage[] = [];
    server = await startCaptureServer({ dir, onMessage: (m) => seen.push(m) });
    const info = await transport(server.port).sendMail({
      from: 'ann@example.com',
      to: ['bob@example.com', 'cy@example.com'],
      subject: 'Captured',
      text: 'line one\n.line two starts with a dot\n',
    });
    expect(info.accepted).toEqual(['bob@example.com', 'cy@example.com']);
    expect(info.response).toMatch(/^250 2\.0\.0 stored as .+\.eml$/);

    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, 'cur'))).toEqual([]);
    const stored = readdirSync(join(dir, 'new'));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/\.eml$/);

    expect(seen).toHaveLength(1);
    expect(seen[0].path).toBe(join(dir, 'new', stored[0]));
    expect(seen[0].from).toBe('ann@example.com');
    expect(seen[0].to).toEqual(['bob@example.com', 'cy@example.com']);
    expect(seen[0].secure).toBe(false);
    const bytes = readFileSync(seen[0].path);
    expect(seen[0].size).toBe(bytes.length);

    const parsed = await simpleParser(bytes);
    expect(parsed.subject).toBe('Captured');
    // Dot-stuffing is undone: the file holds the message as written.
    expect(parsed.text).toBe('line one\n.line two starts with a dot\n');
  });

  it('gives each message its own file name', async () => {
    server = await startCaptureServer({ dir });
    const client = transport(server.port);
    for (let i = 0; i < 3; i += 1) {
      await client.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: `n${i}`, text: 'x' });
    }
    const names = readdirSync(join(dir, 'new'));
    expect(new Set(names).size).toBe(3);
    const subjects = await Promise.all(names.map(async (n) => (await simpleParser(readFileSync(join(dir, 'new', n)))).subject));
    expect(subjects.sort()).toEqual(['n0', 'n1', 'n2']);
  });

  it('refuses the recipients its policy names, with the policy reply, and keeps the others', async () => {
    const seen: CapturedMessage[] = [];
    server = await startCaptureServer({
      dir,
      onMessage: (m) => seen.push(m),
      refuse: (address) =>
        address === 'nobody@example.com' ? true : address === 'later@example.com' ? { code: 451, message: '4.2.1 try later' } : false,
    });
    const socket = connect(server.port, '127.0.0.1');
    const next = replies(socket);
    try {
      expect(await next()).toMatch(/^220 /);
      socket.write('EHLO tester\r\n');
      expect(await next()).toMatch(/^250[- ]/);
      socket.write('MAIL FROM:<a@example.com>\r\n');
      expect(await next()).toMatch(/^250 /);
      socket.write('RCPT TO:<nobody@example.com>\r\n');
      expect(await next()).toBe('550 5.1.1 mailbox unavailable\r\n');
      socket.write('RCPT TO:<later@example.com>\r\n');
      expect(await next()).toBe('451 4.2.1 try later\r\n');
      socket.write('RCPT TO:<ok@example.com>\r\n');
      expect(await next()).toMatch(/^250 /);
      socket.write('DATA\r\n');
      expect(await next()).toMatch(/^354 /);
      socket.write('Subject: x\r\n\r\nbody\r\n.\r\n');
      expect(await next()).toMatch(/^250 2\.0\.0 stored as /);
      socket.write('QUIT\r\n');
      expect(await next()).toMatch(/^221 /);
    } finally {
      socket.destroy();
    }
    expect(seen.map((m) => m.to)).toEqual([['ok@example.com']]);
    expect(readFileSync(seen[0].path, 'utf8')).toBe('Subject: x\r\n\r\nbody\r\n');
  });

  it('answers 451 when the policy throws or gives a non-refusal code, rather than accepting blindly', async () => {
    server = await startCaptureServer({
      dir,
      refuse: (address) => {
        if (address.startsWith('boom')) throw new Error('database down');
        return { code: 250, message: 'fine' };
      },
    });
    const result = transport(server.port).sendMail({ from: 'a@example.com', to: ['boom@example.com', 'x@example.com'], text: 'x' });
    await expect(result).rejects.toMatchObject({ rejected: ['boom@example.com', 'x@example.com'] });
    await result.catch((error: { rejectedErrors?: Array<{ response: string }> }) => {
      const responses = (error.rejectedErrors ?? []).map((e) => e.response);
      expect(responses).toEqual([
        '451 4.3.0 recipient policy failed: database down',
        '451 4.3.0 recipient policy gave an invalid reply code 250',
      ]);
    });
    expect(readdirSync(join(dir, 'new'))).toEqual([]);
  });

  it('offers STARTTLS with a generated certificate that a verifying client accepts when given it as its CA', async () => {
    const seen: CapturedMessage[] = [];
    server = await startCaptureServer({ dir, starttls: true, onMessage: (m) => seen.push(m) });
    expect(server.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const client = createTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      requireTLS: true,
      tls: { ca: server.cert, rejectUnauthorized: true },
    });
    await client.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'over TLS', text: 'secret' });
    expect(seen).toHaveLength(1);
    expect(seen[0].secure).toBe(true);
  });

  it('is refused by a verifying client that was not given the certificate', async () => {
    server = await startCaptureServer({ dir, starttls: true });
    const client = createTransport({ host: '127.0.0.1', port: server.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: true } });
    await expect(client.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' })).rejects.toThrow(/certificate/i);
    expect(readdirSync(join(dir, 'new'))).toEqual([]);
  });

  it('does not offer STARTTLS or AUTH unless asked', async () => {
    server = await startCaptureServer({ dir });
    const socket = connect(server.port, '127.0.0.1');
    const next = replies(socket);
    try {
      await next();
      socket.write('EHLO tester\r\n');
      const ehlo = await next();
      expect(ehlo).not.toMatch(/STARTTLS/);
      expect(ehlo).not.toMatch(/AUTH/);
    } finally {
      socket.destroy();
    }
  });

  it('accepts any user and password with AUTH, over STARTTLS, and records the user', async () => {
    const seen: CapturedMessage[] = [];
    server = await startCaptureServer({ dir, starttls: true, auth: true, onMessage: (m) => seen.push(m) });
    for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5']) {
      const client = createTransport({
        host: '127.0.0.1',
        port: server.port,
        secure: false,
        requireTLS: true,
        tls: { ca: server.cert },
        auth: { user: `user-${method}`, pass: 'any password at all' },
        authMethod: method,
      });
      await client.sendMail({ from: 'a@example.com', to: 'b@example.com', text: method });
    }
    expect(seen.map((m) => [m.user, m.secure])).toEqual([
      ['user-PLAIN', true],
      ['user-LOGIN', true],
      ['user-CRAM-MD5', true],
    ]);
  });

  it('with STARTTLS on, refuses AUTH before TLS so that no password crosses in clear', async () => {
    server = await startCaptureServer({ dir, starttls: true, auth: true });
    const socket = connect(server.port, '127.0.0.1');
    const next = replies(socket);
    try {
      await next();
      socket.write('EHLO tester\r\n');
      await next();
      socket.write(`AUTH PLAIN ${Buffer.from('\0user\0secret').toString('base64')}\r\n`);
      expect(await next()).toMatch(/^538 /);
    } finally {
      socket.destroy();
    }
  });

  it('without STARTTLS, accepts AUTH in clear (a loopback development server)', async () => {
    server = await startCaptureServer({ dir, auth: true });
    const socket = connect(server.port, '127.0.0.1');
    const next = replies(socket);
    try {
      await next();
      socket.write('EHLO tester\r\n');
      expect(await next()).toMatch(/^250[- ]AUTH PLAIN LOGIN CRAM-MD5\r$/m);
      socket.write(`AUTH PLAIN ${Buffer.from('\0anyone\0anything').toString('base64')}\r\n`);
      expect(await next()).toMatch(/^235 /);
    } finally {
      socket.destroy();
    }
  });

  it('keeps AUTH optional, so an unauthenticated client still delivers', async () => {
    server = await startCaptureServer({ dir, auth: true });
    await transport(server.port).sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' });
    expect(readdirSync(join(dir, 'new'))).toHaveLength(1);
  });

  it('refuses a message over the size limit and keeps no file of it', async () => {
    server = await startCaptureServer({ dir, size: 1000 });
    const result = transport(server.port).sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x'.repeat(5000) });
    await expect(result).rejects.toMatchObject({ responseCode: 552 });
    expect(readdirSync(join(dir, 'new'))).toEqual([]);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('checks its options before listening', async () => {
    await expect(startCaptureServer({} as never)).rejects.toThrow(/dir/);
    await expect(startCaptureServer({ dir, port: -1 })).rejects.toThrow(/-port/);
    await expect(startCaptureServer({ dir, bogus: 1 } as never)).rejects.toThrow(/unknown option -bogus/);
  });

  it('fails to start on a port that is taken', async () => {
    server = await startCaptureServer({ dir });
    await expect(startCaptureServer({ dir, port: server.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('close() can be called twice', async () => {
    const s = await startCaptureServer({ dir });
    await s.close();
    await s.close();
    await expect(transport(s.port).sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' })).rejects.toThrow();
  });
});
