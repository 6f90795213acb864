/**
 * aiosmtpd (Debian's python3-aiosmtpd) as a second independent SMTP server:
 * STARTTLS required, AUTH PLAIN and LOGIN required, and every AUTH attempt
 * and accepted message recorded. The Python side is `aiosmtpd_server.py`,
 * run with `/usr/bin/python3` (a pyenv `python3` first on PATH lacks the
 * Debian module). It runs as a child of this process, prints `ready PORT`,
 * then one JSON line per event, and is stopped by its PID.
 *
 *   const srv = await startAiosmtpd({ tls: true, auth: { user: 'ann', password: 's3cret' } });
 *   ... connect to 127.0.0.1:srv.port, STARTTLS with { ca: srv.ca }, AUTH, send ...
 *   const [msg] = await srv.waitForMessages(1);
 *   await srv.stop();
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testCertificate } from './certs';
import { killOnExit, stopByPid } from './fixtures';

/** The interpreter that has Debian's aiosmtpd module. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'aiosmtpd_server.py');

export interface AiosmtpdOptions {
  /** STARTTLS with the test certificate, required before MAIL. Default true. */
  tls?: boolean;
  /** AUTH PLAIN and LOGIN with this one account, required before MAIL. Default: no AUTH. */
  auth?: { user: string; password: string };
  /** Largest message in octets (SIZE). Default 10 MiB. */
  size?: number;
  /** Milliseconds to wait for `ready`. Default 20000. */
  startTimeoutMs?: number;
}

/** A message as aiosmtpd received it. */
export interface RecordedMessage {
  mailFrom: string;
  /** ESMTP parameters of MAIL FROM as sent, e.g. `SIZE=123`, `BODY=8BITMIME`. */
  mailOptions: string[];
  rcptTos: string[];
  /** ESMTP parameters of each RCPT TO, in order. */
  rcptOptions: string[][];
  smtpUtf8: boolean;
  /** True when the message came over TLS. */
  tls: boolean;
  /** The authenticated user, null when none. */
  user: string | null;
  /** The message bytes after the end of data was removed and dot-stuffing undone, CRLF kept. */
  data: Buffer;
}

/** One AUTH attempt as the server's authenticator saw it. */
export interface RecordedAuth {
  mechanism: string;
  login: string | null;
  ok: boolean;
  tls: boolean;
}

export interface AiosmtpdServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  /** PEM of the CA that signed the server certificate (names: localhost, 127.0.0.1); '' without TLS. */
  readonly ca: string;
  /** Accepted messages so far, in order. */
  readonly messages: RecordedMessage[];
  /** AUTH attempts so far, in order. */
  readonly auths: RecordedAuth[];
  /** Waits until at least `count` messages were recorded (the record follows the 250 by a moment). */
  waitForMessages(count: number, timeoutMs?: number): Promise<RecordedMessage[]>;
  /** Waits until at least `count` AUTH attempts were recorded. */
  waitForAuths(count: number, timeoutMs?: number): Promise<RecordedAuth[]>;
  /** Standard error of the server so far (for failure messages). */
  stderr(): string;
  /** Stops the server by its PID (SIGTERM, then SIGKILL if it lingers) and removes its key files. */
  stop(): Promise<void>;
}

let probed: { ok: boolean; reason: string } | undefined;

function probe(): { ok: boolean; reason: string } {
  if (probed) return probed;
  if (!existsSync(DEBIAN_PYTHON)) return (probed = { ok: false, reason: `${DEBIAN_PYTHON} is not installed` });
  const check = spawnSync(DEBIAN_PYTHON, ['-c', 'import aiosmtpd.controller, aiosmtpd.smtp; print(aiosmtpd.__version__)'], {
    encoding: 'utf8',
    timeout: 20000,
  });
  if (check.status !== 0) return (probed = { ok: false, reason: `the aiosmtpd module is missing from ${DEBIAN_PYTHON}` });
  return (probed = { ok: true, reason: '' });
}

let warned = false;

/** True when Debian's python3 with aiosmtpd is installed. */
export function hasAiosmtpd(): boolean {
  const found = probe();
  if (!found.ok && !warned) {
    warned = true;
    console.warn(`aiosmtpd tests skipped: ${found.reason} (apt-get install -y python3-aiosmtpd; see docs/testing.md).`);
  }
  return found.ok;
}

/** `describe` when aiosmtpd is there, `describe.skip` (with the warning above) when it is not. */
export const describeWithAiosmtpd: jest.Describe = ((name: string, fn: () => void) =>
  hasAiosmtpd() ? describe(name, fn) : describe.skip(`${name} (skipped: aiosmtpd not installed)`, fn)) as jest.Describe;

interface WireMessage {
  type: 'message';
  mail_from: string;
  mail_options: string[];
  rcpt_tos: string[];
  rcpt_options: string[][];
  smtp_utf8: boolean;
  tls: boolean;
  user: string | null;
  data: string;
}
interface WireAuth {
  type: 'auth';
  mechanism: string;
  login: string | null;
  ok: boolean;
  tls: boolean;
}

async function waitFor<T>(list: T[], count: number, timeoutMs: number, what: string, stderr: () => string): Promise<T[]> {
  const until = Date.now() + timeoutMs;
  while (list.length < count) {
    if (Date.now() > until) throw new Error(`aiosmtpd recorded ${list.length} of ${count} ${what} within ${timeoutMs} ms; stderr:\n${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return list.slice();
}

/** Starts the recording aiosmtpd on 127.0.0.1 at a free port. Call `stop()` in `afterAll`. */
export async function startAiosmtpd(options: AiosmtpdOptions = {}): Promise<AiosmtpdServer> {
  const found = probe();
  if (!found.ok) throw new Error(`cannot start aiosmtpd: ${found.reason}`);
  const tls = options.tls ?? true;
  const args = [SCRIPT, '--size', String(options.size ?? 10 * 1024 * 1024)];
  let folder: string | undefined;
  let ca = '';
  if (tls) {
    const certificate = await testCertificate(['localhost', '127.0.0.1']);
    ca = certificate.ca;
    folder = await fs.mkdtemp(path.join(os.tmpdir(), 'tclmail-aiosmtpd-'));
    await fs.writeFile(path.join(folder, 'key.pem'), certificate.key, { mode: 0o600 });
    await fs.writeFile(path.join(folder, 'cert.pem'), certificate.cert, { mode: 0o600 });
    args.push('--cert', path.join(folder, 'cert.pem'), '--key', path.join(folder, 'key.pem'));
  }
  if (options.auth) args.push('--user', options.auth.user, '--password', options.auth.password);

  const child = spawn(DEBIAN_PYTHON, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  const messages: RecordedMessage[] = [];
  const auths: RecordedAuth[] = [];
  let errors = '';
  // A late spawn error or a closed pipe must not crash the test process; the startup code below reports the first.
  child.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (errors += text));

  const port = await new Promise<number>((resolve, reject) => {
    let pending = '';
    let ready = false;
    const timer = setTimeout(() => fail(new Error('no "ready" line')), options.startTimeoutMs ?? 20000);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`aiosmtpd did not start: ${error.message}\n${errors}`));
    }
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      if (!ready) fail(new Error(`exited with ${code ?? signal}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      pending += text;
      let end: number;
      while ((end = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (!ready) {
          const match = /^ready (\d+)$/.exec(line);
          if (match) {
            ready = true;
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
          continue;
        }
        const record = JSON.parse(line) as WireMessage | WireAuth;
        if (record.type === 'auth') {
          auths.push({ mechanism: record.mechanism, login: record.login, ok: record.ok, tls: record.tls });
        } else {
          messages.push({
            mailFrom: record.mail_from,
            mailOptions: record.mail_options,
            rcptTos: record.rcpt_tos,
            rcptOptions: record.rcpt_options,
            smtpUtf8: record.smtp_utf8,
            tls: record.tls,
            user: record.user,
            data: Buffer.from(record.data, 'base64'),
          });
        }
      }
    });
  }).catch(async (error: unknown) => {
    if (folder) await fs.rm(folder, { recursive: true, force: true });
    throw error;
  });

  const pid = child.pid!;
  killOnExit(pid);
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    pid,
    ca,
    messages,
    auths,
    waitForMessages: (count, timeoutMs = 10000) => waitFor(messages, count, timeoutMs, 'messages', () => errors),
    waitForAuths: (count, timeoutMs = 10000) => waitFor(auths, count, timeoutMs, 'AUTH attempts', () => errors),
    stderr: () => errors,
    stop() {
      stopped ??= (async () => {
        await stopByPid(child, pid, 5000);
        child.stdin?.destroy();
        if (folder) await fs.rm(folder, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
