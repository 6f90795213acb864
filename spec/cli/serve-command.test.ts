/**
 * `tclmail serve` as a child process: it prints where it listens and one line
 * per stored message, honours --refuse, --starttls and --auth, and exits 0 when
 * stopped by SIGTERM.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { ensureBuilt, lines, run, start, stop } from './helpers';

let dir: string;
let child: ChildProcess | undefined;

beforeAll(() => ensureBuilt(), 180_000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tclmail-serve-cmd-'));
});

afterEach(async () => {
  if (child) await stop(child);
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('tclmail serve', () => {
  it('prints its address, then one line per message with the stored file, and exits 0 on SIGTERM', async () => {
    child = start(['serve', '--port', '0', '--dir', dir, '--refuse', 'nobody@example.com']);
    const out = lines(child);
    const [, host, port] = await out.waitFor(/^listening on (127\.0\.0\.1):(\d+), storing messages in (.+)$/);
    expect(host).toBe('127.0.0.1');

    const transport = createTransport({ host, port: Number(port), secure: false, ignoreTLS: true });
    const info = await transport.sendMail({
      from: 'ann@example.com',
      to: ['bob@example.com', 'nobody@example.com'],
      subject: 'From the test',
      text: 'hello',
    });
    expect(info.accepted).toEqual(['bob@example.com']);
    expect(info.rejected).toEqual(['nobody@example.com']);

    const [, path] = await out.waitFor(/^\d{4}-\d\d-\d\dT\S+ <ann@example\.com> -> <bob@example\.com> \(\d+ bytes\) (.+)$/);
    expect(path.startsWith(join(dir, 'new'))).toBe(true);
    expect(readFileSync(path, 'utf8')).toMatch(/^Subject: From the test\r$/m);

    const status = await stop(child);
    child = undefined;
    expect(status).toBe(0);
  });

  it('with --starttls and --auth writes the certificate and records TLS and the user on the message line', async () => {
    child = start(['serve', '--port', '0', '--dir', dir, '--starttls', '--auth']);
    const out = lines(child);
    const [, port] = await out.waitFor(/^listening on 127\.0\.0\.1:(\d+) with STARTTLS and AUTH \(any user\)/);
    const [, certPath] = await out.waitFor(/^certificate: (.+)$/);
    expect(certPath).toBe(join(dir, 'capture-cert.pem'));
    const ca = readFileSync(certPath, 'utf8');

    const transport = createTransport({
      host: '127.0.0.1',
      port: Number(port),
      secure: false,
      requireTLS: true,
      tls: { ca },
      auth: { user: 'whoever', pass: 'whatever' },
    });
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', text: 'x' });
    const [, path] = await out.waitFor(/\(\d+ bytes, TLS, user whoever\) (.+)$/);
    expect(existsSync(path)).toBe(true);
  });

  it('exits 2 with a message when the port is taken', async () => {
    child = start(['serve', '--port', '0', '--dir', dir]);
    const [, port] = await lines(child).waitFor(/^listening on 127\.0\.0\.1:(\d+)/);
    const second = await run(['serve', '--port', port, '--dir', dir]);
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(/^tclmail serve: cannot start: .*EADDRINUSE/m);
  });

  it('exits 64 on a bad flag, naming it', async () => {
    const bad = await run(['serve', '--port', 'eighty']);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/--port expects a whole number from 0 to 65535, not "eighty"/);
    const unknown = await run(['serve', '--colour']);
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toMatch(/Unknown option '--colour'/);
  });
});
