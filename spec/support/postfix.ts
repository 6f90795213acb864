/**
 * A throw-away Postfix for tests: its own configuration, queue and Maildirs
 * under a temporary folder, one smtpd on 127.0.0.1 at a free port, STARTTLS
 * with a certificate made for the run, and nothing that leaves the machine.
 *
 *   const pf = await startPostfix();
 *   ... send to alice@tclmail.test on 127.0.0.1:pf.port ...
 *   const [file] = await pf.waitForDelivery('alice', 1);
 *   await pf.stop();
 *
 * The master daemon runs in the foreground (`master -d`) as a child of this
 * process and in its own process group, so `stop()` ends exactly this
 * instance by its PID. A system Postfix, if any, is never touched: every
 * path is under the temporary folder and only `mail_owner` is shared.
 * Postfix needs root (its master starts daemons as `mail_owner`); without
 * root or without the Debian package the suites skip with a message.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { testCertificate } from './certs';
import { exited, killOnExit, stopByPid } from './fixtures';

/** The mail domain Postfix delivers to Maildirs. */
export const POSTFIX_DOMAIN = 'tclmail.test';
/** The name Postfix gives itself (greeting, EHLO, Received). */
export const POSTFIX_HOSTNAME = `mail.${POSTFIX_DOMAIN}`;
/** Mailboxes that exist unless the caller names others; one has a non-ASCII local part for SMTPUTF8. */
export const POSTFIX_USERS: readonly string[] = ['alice', 'bob', 'carol', 'jösé'];

export interface PostfixOptions {
  /** Local parts of the mailboxes at {@link POSTFIX_DOMAIN}. Any other is refused with 550 5.1.1. */
  users?: readonly string[];
  /** `message_size_limit` in octets (advertised as SIZE). Default 10 MiB. */
  messageSizeLimit?: number;
  /** Milliseconds to wait for the first greeting. Default 20000. */
  startTimeoutMs?: number;
  /**
   * Accept unknown users at RCPT time and bounce them afterwards (5.1.1 from the
   * virtual delivery agent), as a relay that does not know the mailboxes does.
   * Default false: unknown users are refused with 550 5.1.1 at RCPT.
   */
  acceptUnknown?: boolean;
  /**
   * Transport overrides (Postfix `transport_maps`), by address or domain: for example
   * `{ 'full@tclmail.test': 'error:5.2.2 mailbox full' }` to fail one mailbox after
   * the message was accepted, or `{ 'bounces.test': 'smtp:[127.0.0.1]:2525' }` to
   * route the bounces for a domain to a server on loopback.
   */
  transports?: Readonly<Record<string, string>>;
}

export interface PostfixServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly domain: string;
  readonly hostname: string;
  readonly messageSizeLimit: number;
  /** PEM of the CA that signed the server certificate (names: localhost, 127.0.0.1, {@link POSTFIX_HOSTNAME}). */
  readonly ca: string;
  /** The temporary folder holding everything of this instance. */
  readonly root: string;
  /** The master daemon's PID. */
  readonly pid: number;
  /** `user@tclmail.test`. */
  address(user: string): string;
  /** The Maildir folder of `user` (it appears with the first delivery). */
  maildir(user: string): string;
  /** The messages in `user`'s Maildir now, oldest first, as Postfix stored them (LF line ends). */
  delivered(user: string): Promise<Buffer[]>;
  /**
   * Waits until `user`'s Maildir holds at least `count` messages (delivery is
   * asynchronous) and returns them oldest first. Throws with the tail of the
   * mail log when `timeoutMs` passes first.
   */
  waitForDelivery(user: string, count: number, timeoutMs?: number): Promise<Buffer[]>;
  /**
   * Waits until the queue is empty: every message Postfix accepted has been
   * delivered (or bounced). After this, an empty Maildir means nothing came.
   */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** The mail log of this instance so far (for failure messages). */
  log(): Promise<string>;
  /** Stops the master (SIGTERM by PID, its process group killed if it lingers) and removes the folder. */
  stop(): Promise<void>;
}

const POSTCONF = '/usr/sbin/postconf';
let probed: { ok: boolean; reason: string; daemonDirectory: string } | undefined;

function probe(): NonNullable<typeof probed> {
  if (probed) return probed;
  const fail = (reason: string) => (probed = { ok: false, reason, daemonDirectory: '' });
  if (process.platform !== 'linux') return fail('Postfix tests run on Linux only');
  if (!existsSync(POSTCONF)) return fail('Postfix is not installed');
  const daemonDirectory = spawnSync(POSTCONF, ['-dh', 'daemon_directory'], { encoding: 'utf8', timeout: 10000 }).stdout?.trim() ?? '';
  if (!daemonDirectory || !existsSync(path.join(daemonDirectory, 'master'))) return fail('the Postfix master daemon was not found');
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return fail('Postfix must be started as root');
  if (lookupId('passwd', 'postfix') === undefined) return fail('the mail_owner account "postfix" does not exist');
  if (lookupId('passwd', 'nobody') === undefined) return fail('the account "nobody" does not exist');
  return (probed = { ok: true, reason: '', daemonDirectory });
}

/** The uid (passwd) or gid (group) of a name, from getent. */
function lookupId(database: 'passwd' | 'group', name: string, field = 2): number | undefined {
  const out = spawnSync('getent', [database, name], { encoding: 'utf8', timeout: 10000 });
  if (out.status !== 0) return undefined;
  const value = Number(out.stdout.split(':')[field]);
  return Number.isInteger(value) ? value : undefined;
}

let warned = false;

/** True when a throw-away Postfix can be started here (Debian package installed, running as root). */
export function hasPostfix(): boolean {
  const found = probe();
  if (!found.ok && !warned) {
    warned = true;
    // eslint-disable-next-line no-console
    const hint = found.reason.includes('root')
      ? 'run the tests as root'
      : `install it with "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections; ` +
        `DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"`;
    console.warn(`Postfix tests skipped: ${found.reason}; ${hint} (see docs/testing.md).`);
  }
  return found.ok;
}

/** `describe` when Postfix can run, `describe.skip` (with the warning above) when it cannot. */
export const describeWithPostfix: jest.Describe = ((name: string, fn: () => void) =>
  hasPostfix() ? describe(name, fn) : describe.skip(`${name} (skipped: Postfix not available)`, fn)) as jest.Describe;

/** A port that was free a moment ago (bind to 0, read it, release it); the caller retries if it is taken. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The directory name of a mailbox: the local part itself when it is plain ASCII, else a hex form. */
function folderOf(user: string): string {
  return /^[a-z0-9._-]+$/i.test(user) ? user : 'u-' + Buffer.from(user, 'utf8').toString('hex');
}

function mainCf(root: string, o: { size: number; uid: number; gid: number; acceptUnknown: boolean; transports: boolean }): string {
  const etc = path.join(root, 'etc');
  const noOutbound = 'error:5.7.1 this test instance sends nothing off the machine';
  return [
    '# Generated by spec/support/postfix.ts for one test run.',
    // Level 2 exists in every Postfix 3.x; every setting that matters is explicit below.
    'compatibility_level = 2',
    `config_directory = ${etc}`,
    `queue_directory = ${path.join(root, 'queue')}`,
    `data_directory = ${path.join(root, 'data')}`,
    'mail_owner = postfix',
    `myhostname = ${POSTFIX_HOSTNAME}`,
    `mydomain = ${POSTFIX_DOMAIN}`,
    'myorigin = $myhostname',
    'mydestination =',
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.1/32',
    // No relay anywhere: only the test domain is accepted, and nothing is sent out.
    'relay_domains =',
    'smtpd_relay_restrictions = reject_unauth_destination',
    'smtpd_recipient_restrictions = reject_unauth_destination',
    `default_transport = ${noOutbound}`,
    `relay_transport = ${noOutbound}`,
    'smtp_dns_support_level = disabled',
    'lmtp_dns_support_level = disabled',
    'smtpd_peername_lookup = no',
    `virtual_mailbox_domains = ${POSTFIX_DOMAIN}`,
    `virtual_mailbox_maps = texthash:${path.join(etc, 'vmailbox')}`,
    `virtual_mailbox_base = ${path.join(root, 'mail')}`,
    `virtual_uid_maps = static:${o.uid}`,
    `virtual_gid_maps = static:${o.gid}`,
    'virtual_mailbox_limit = 0',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    // Unknown users: 550 5.1.1 at RCPT time, or (acceptUnknown) a bounce after the message was taken.
    `smtpd_reject_unlisted_recipient = ${o.acceptUnknown ? 'no' : 'yes'}`,
    ...(o.transports ? [`transport_maps = texthash:${path.join(etc, 'transport')}`, 'smtp_tls_security_level = none'] : []),
    // With bounces in play, they go out at once rather than after the default delays.
    ...(o.acceptUnknown || o.transports ? ['bounce_queue_lifetime = 0', 'delay_warning_time = 0'] : []),
    'unknown_virtual_mailbox_reject_code = 550',
    'smtputf8_enable = yes',
    // A UTF-8 address without the SMTPUTF8 parameter is refused, so tests see whether a client declared it.
    'strict_smtputf8 = yes',
    `message_size_limit = ${o.size}`,
    // Store what the client sent: no header rewriting or added headers for SMTP clients.
    'local_header_rewrite_clients =',
    // No artificial pauses after errors or under load: tests stay fast.
    'smtpd_error_sleep_time = 0',
    'in_flow_delay = 0',
    'smtpd_tls_security_level = may',
    `smtpd_tls_chain_files = ${path.join(etc, 'server.pem')}`,
    'smtpd_tls_session_cache_database =',
    `maillog_file = ${path.join(root, 'maillog')}`,
    `maillog_file_prefixes = ${root}`,
    'biff = no',
    '',
  ].join('\n');
}

function masterCf(port: number): string {
  // chroot is off everywhere: the paths live under a temporary folder, not a prepared jail.
  return [
    '# service type private unpriv chroot wakeup maxproc command',
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'tlsmgr unix - - n 1000? 1 tlsmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    // Used only by transports that name it (a bounce routed to a server on loopback).
    'smtp unix - - n - - smtp',
    'virtual unix - n n - - virtual',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n');
}

/** The queue layout of Debian's postfix-files, so that `postfix check` (slow) is not needed. */
async function makeQueue(queue: string, owner: number, postdrop: number): Promise<void> {
  await fs.mkdir(queue, { mode: 0o755 });
  for (const name of ['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace']) {
    const dir = path.join(queue, name);
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.chown(dir, owner, 0);
  }
  for (const [name, mode] of [['maildrop', 0o1730], ['public', 0o710]] as const) {
    const dir = path.join(queue, name);
    await fs.mkdir(dir);
    await fs.chown(dir, owner, postdrop);
    await fs.chmod(dir, mode);
  }
  await fs.mkdir(path.join(queue, 'pid'), { mode: 0o755 });
}

/**
 * Postfix re-reads a table or main.cf written less than a second ago until it
 * stops changing (a guard against half-saved files), which costs over a second
 * per start: the generated files are dated a minute back.
 */
async function backdate(dir: string): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const name of await fs.readdir(dir)) await fs.utimes(path.join(dir, name), past, past);
}

/** Connects and reads until a full 220 greeting line arrives. */
function greeted(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) done(text.startsWith('220 '));
    });
    socket.on('close', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files below `dir` (any depth); none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(full)));
    else found.push(full);
  }
  return found;
}

/** Maildir names start `seconds.` and hold `M<microseconds>`: their delivery time, to order them. */
function deliveryTime(name: string): number {
  const seconds = Number(name.split('.')[0]);
  const micro = /M(\d+)/.exec(name);
  return seconds * 1e6 + (micro ? Number(micro[1]) : 0);
}

async function tail(file: string, lines = 30): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines - 1).join('\n');
}

/**
 * Starts a throw-away Postfix on 127.0.0.1 at a free port. Call `stop()` in
 * `afterAll`. Rejects when Postfix cannot run here (check {@link hasPostfix} first).
 */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixServer> {
  const found = probe();
  if (!found.ok) throw new Error(`cannot start Postfix: ${found.reason}`);
  const users = options.users ?? POSTFIX_USERS;
  const size = options.messageSizeLimit ?? 10 * 1024 * 1024;
  const owner = lookupId('passwd', 'postfix')!;
  const postdrop = lookupId('group', 'postdrop') ?? 0;
  const uid = lookupId('passwd', 'nobody')!;
  const gid = lookupId('passwd', 'nobody', 3)!;
  const certificate = await testCertificate(['localhost', '127.0.0.1', POSTFIX_HOSTNAME]);

  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tclmail-postfix-'));
  // The daemons run as mail_owner and must reach the queue below this folder.
  await fs.chmod(root, 0o755);
  const etc = path.join(root, 'etc');
  const mail = path.join(root, 'mail');
  const data = path.join(root, 'data');
  try {
    await fs.mkdir(etc, { mode: 0o755 });
    await fs.mkdir(mail, { mode: 0o755 });
    await fs.chown(mail, uid, gid);
    await fs.mkdir(data, { mode: 0o700 });
    await fs.chown(data, owner, 0);
    await makeQueue(path.join(root, 'queue'), owner, postdrop);
    await fs.writeFile(path.join(etc, 'server.pem'), `${certificate.key.trim()}\n${certificate.cert.trim()}\n`, { mode: 0o600 });
    const table = users.map((user) => `${user}@${POSTFIX_DOMAIN} ${folderOf(user)}/`).join('\n');
    await fs.writeFile(path.join(etc, 'vmailbox'), table + '\n');
  } catch (error) {
    await fs.rm(root, { recursive: true, force: true });
    throw error;
  }

  const deadline = Date.now() + (options.startTimeoutMs ?? 20000);
  let lastFailure = '';
  // A port picked free can be taken before master binds it: then master exits and another port is tried.
  for (let tries = 0; tries < 3 && Date.now() < deadline; tries++) {
    const port = await freePort();
    const transports = Object.entries(options.transports ?? {});
    if (transports.length > 0) await fs.writeFile(path.join(etc, 'transport'), transports.map(([key, value]) => `${key} ${value}`).join('\n') + '\n');
    await fs.writeFile(path.join(etc, 'main.cf'), mainCf(root, { size, uid, gid, acceptUnknown: options.acceptUnknown ?? false, transports: transports.length > 0 }));
    await fs.writeFile(path.join(etc, 'master.cf'), masterCf(port));
    await backdate(etc);
    const output: Buffer[] = [];
    // detached: master leads its own process group, which its SIGTERM handler signals on the way out.
    const child = spawn(path.join(found.daemonDirectory, 'master'), ['-c', etc, '-d'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', TZ: 'UTC' },
    });
    child.stdout!.on('data', (c: Buffer) => output.push(c));
    child.stderr!.on('data', (c: Buffer) => output.push(c));
    const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
    let up = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      const outcome = await Promise.race([greeted(port), spawnError]);
      if (outcome instanceof Error) {
        lastFailure = outcome.message;
        break;
      }
      if (outcome) {
        up = true;
        break;
      }
      await sleep(50);
    }
    if (up && child.pid !== undefined) return instance(child, child.pid, port);
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
      await exited(child, 5000);
    }
    lastFailure = `${lastFailure}\n${Buffer.concat(output).toString('utf8')}\n${await tail(path.join(root, 'maillog'))}`.trim();
  }
  await fs.rm(root, { recursive: true, force: true });
  throw new Error(`Postfix did not start: ${lastFailure}`);

  function instance(child: ChildProcess, pid: number, port: number): PostfixServer {
    killOnExit(pid);
    const maildir = (user: string) => path.join(mail, folderOf(user));
    const delivered = async (user: string): Promise<Buffer[]> => {
      const dir = maildir(user);
      const files = [...(await filesUnder(path.join(dir, 'new'))), ...(await filesUnder(path.join(dir, 'cur')))];
      files.sort((a, b) => deliveryTime(path.basename(a)) - deliveryTime(path.basename(b)));
      return Promise.all(files.map((file) => fs.readFile(file)));
    };
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      domain: POSTFIX_DOMAIN,
      hostname: POSTFIX_HOSTNAME,
      messageSizeLimit: size,
      ca: certificate.ca,
      root,
      pid,
      address: (user) => `${user}@${POSTFIX_DOMAIN}`,
      maildir,
      delivered,
      async waitForDelivery(user, count, timeoutMs = 15000) {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const messages = await delivered(user);
          if (messages.length >= count) return messages;
          if (Date.now() > until) {
            throw new Error(`Postfix delivered ${messages.length} of ${count} messages to ${user} within ${timeoutMs} ms; mail log:\n${await tail(path.join(root, 'maillog'))}`);
          }
          await sleep(50);
        }
      },
      async waitForIdle(timeoutMs = 15000) {
        const until = Date.now() + timeoutMs;
        const queues = ['incoming', 'active', 'deferred', 'hold', 'maildrop'].map((name) => path.join(root, 'queue', name));
        for (;;) {
          const waiting = (await Promise.all(queues.map(filesUnder))).flat();
          if (waiting.length === 0) return;
          if (Date.now() > until) {
            throw new Error(`Postfix queue not empty after ${timeoutMs} ms (${waiting.join(', ')}); mail log:\n${await tail(path.join(root, 'maillog'))}`);
          }
          await sleep(50);
        }
      },
      log: () => fs.readFile(path.join(root, 'maillog'), 'utf8').catch(() => ''),
      stop() {
        stopped ??= (async () => {
          await stopByPid(child, pid, 10000, true);
          // The daemons inherited the pipes; do not wait for the last of them to exit.
          child.stdout?.destroy();
          child.stderr?.destroy();
          await fs.rm(root, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
}

/**
 * Splits a delivered file into the trace fields Postfix put on top
 * (Return-Path, X-Original-To, Delivered-To, Received) and the message as the
 * client sent it, line ends turned into LF as Postfix stores them.
 */
export function splitTrace(file: Buffer): { trace: string; message: Buffer } {
  const traceNames = /^(return-path|x-original-to|delivered-to|received):/i;
  let offset = 0;
  let inTrace = false;
  while (offset < file.length) {
    const end = file.indexOf(0x0a, offset);
    const line = file.subarray(offset, end < 0 ? file.length : end).toString('latin1');
    const continuation = line.startsWith(' ') || line.startsWith('\t');
    if (!(continuation ? inTrace : traceNames.test(line))) break;
    inTrace = true;
    offset = end < 0 ? file.length : end + 1;
  }
  return { trace: file.subarray(0, offset).toString('utf8'), message: file.subarray(offset) };
}

/** The form in which Postfix stores a message sent over SMTP: CRLF line ends become LF. */
export function asStored(sent: Buffer | string): Buffer {
  const bytes = typeof sent === 'string' ? Buffer.from(sent, 'utf8') : sent;
  return Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}
