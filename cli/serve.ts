/**
 * The capture server: a real SMTP server (the npm `smtp-server`) for
 * development and tests that stores every message it accepts as an `.eml`
 * file in a Maildir-style folder instead of delivering it. It listens on
 * loopback unless told otherwise, can offer STARTTLS with a certificate made
 * at start-up, can offer AUTH that accepts any user, and can refuse chosen
 * recipients so that partial delivery can be tried without a real mail system.
 */
import { basename } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { OptionError } from '../lib/errors';
import { parseOptions } from '../lib/options';
import type { OptionSpecs } from '../lib/options';
import type { Socket } from 'node:net';
import { generateCertificate } from './certificate';
import { deliver, ensureMaildir, TooLargeError } from './maildir';
import { DEFAULT_LIMITS, LineDeadline } from './serve-limits';

/** How the server answers a refused recipient. */
export interface Refusal {
  /** A 4xx (temporary) or 5xx (permanent) reply code. */
  code: number;
  /** The reply text, enhanced status code first by custom, e.g. `5.1.1 no such user`. */
  message: string;
}

/** One message the server accepted and stored. */
export interface CapturedMessage {
  /** The `.eml` file in `dir/new`. */
  path: string;
  /** The envelope sender (MAIL FROM), `''` for the null sender `<>`. */
  from: string;
  /** The accepted envelope recipients (RCPT TO), in order. */
  to: string[];
  /** Bytes stored (after dot-unstuffing). */
  size: number;
  /** True when the message came over TLS. */
  secure: boolean;
  /** The user name the client authenticated with, if it did. */
  user?: string;
  /** The name the client gave in EHLO/HELO. */
  client: string;
}

export interface CaptureServerOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 (the default) picks a free one, read it back from the result. */
  port?: number;
  /** The Maildir-style folder; `tmp`, `new` and `cur` are created inside it. */
  dir: string;
  /** Offer STARTTLS with a certificate generated at start. Default false. */
  starttls?: boolean;
  /** Offer AUTH (PLAIN, LOGIN, CRAM-MD5) and accept any user and password. Optional for clients. Default false. */
  auth?: boolean;
  /**
   * Recipient policy: `true` refuses with `550 5.1.1`, a {@link Refusal} refuses
   * with that reply, anything else accepts.
   */
  refuse?: (address: string) => boolean | Refusal | null | undefined;
  /** Called after each message is stored (the client gets its 250 after this returns). */
  onMessage?: (message: CapturedMessage) => void;
  /** Largest message accepted, in bytes, advertised with SIZE; no byte past it reaches the disk. Default: no limit. */
  size?: number;
  /** Connections at once; one more is answered 421. Default 100. */
  maxClients?: number;
  /** Recipients in one transaction; one more is answered 452 4.5.3. Default 1000. */
  maxRecipients?: number;
  /** Seconds a command line (or a line of a message) may take to arrive, however it dribbles in. Default 60. */
  commandSecs?: number;
  /** Seconds without a byte before a connection is closed. Default 120. */
  idleSecs?: number;
}

/** A running capture server. */
export interface CaptureServer {
  host: string;
  port: number;
  dir: string;
  /** The certificate's PEM when STARTTLS is on: pass it to a client as `ca`. */
  cert?: string;
  /** Stops listening and ends open sessions; resolves when the server is closed. */
  close(): Promise<void>;
}

const SPECS: OptionSpecs = {
  host: { kind: 'string' },
  port: { kind: 'integer', min: 0 },
  dir: { kind: 'string' },
  starttls: { kind: 'boolean' },
  auth: { kind: 'boolean' },
  refuse: { kind: 'function' },
  onMessage: { kind: 'function' },
  size: { kind: 'integer', min: 1 },
  maxClients: { kind: 'integer', min: 1 },
  maxRecipients: { kind: 'integer', min: 1 },
  commandSecs: { kind: 'integer', min: 1 },
  idleSecs: { kind: 'integer', min: 1 },
};

const DEFAULT_REFUSAL: Refusal = { code: 550, message: '5.1.1 mailbox unavailable' };

/** An error whose code smtp-server sends as the reply. */
function replyError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

function policyReply(refuse: CaptureServerOptions['refuse'], address: string): Error | null {
  if (!refuse) return null;
  let verdict: ReturnType<NonNullable<CaptureServerOptions['refuse']>>;
  try {
    verdict = refuse(address);
  } catch (error) {
    return replyError(451, `4.3.0 recipient policy failed: ${(error as Error).message}`);
  }
  if (verdict === true) return replyError(DEFAULT_REFUSAL.code, DEFAULT_REFUSAL.message);
  if (!verdict) return null;
  const { code, message } = verdict;
  // A policy that answers with a success or a malformed code would make the client's view of the envelope wrong.
  if (!Number.isInteger(code) || code < 400 || code > 599) {
    return replyError(451, `4.3.0 recipient policy gave an invalid reply code ${String(code)}`);
  }
  return replyError(code, String(message ?? ''));
}

/**
 * Starts a capture server and resolves once it listens.
 *
 * ```ts
 * const server = await startCaptureServer({ dir: './mail', refuse: (a) => a === 'nobody@example.com' });
 * // send to 127.0.0.1:server.port, then read ./mail/new/*.eml
 * await server.close();
 * ```
 * The command-line twin is `tclmail serve --dir ./mail`.
 */
export async function startCaptureServer(options: CaptureServerOptions): Promise<CaptureServer> {
  const parsed = parseOptions('startCaptureServer', SPECS, [options]) as Partial<CaptureServerOptions>;
  if (parsed.dir === undefined || parsed.dir === '') {
    throw new OptionError('startCaptureServer', 'dir', 'the dir option (the folder for received messages) is required');
  }
  const dir = parsed.dir;
  if (parsed.host === '') {
    throw new OptionError('startCaptureServer', 'host', 'an empty host would listen on every interface: name one, e.g. 127.0.0.1');
  }
  const host = parsed.host ?? '127.0.0.1';
  const maxRecipients = parsed.maxRecipients ?? DEFAULT_LIMITS.maxRecipients;
  const deadline = new LineDeadline((parsed.commandSecs ?? DEFAULT_LIMITS.commandSecs) * 1000);
  const starttls = parsed.starttls ?? false;
  const auth = parsed.auth ?? false;
  ensureMaildir(dir);

  const disabledCommands: string[] = [];
  if (!starttls) disabledCommands.push('STARTTLS');
  if (!auth) disabledCommands.push('AUTH');
  const certificate = starttls ? await generateCertificate(host) : undefined;

  const serverOptions: SMTPServerOptions = {
    name: 'localhost',
    banner: 'tclmail capture server',
    logger: false,
    disabledCommands,
    disableReverseLookup: true,
    authOptional: true,
    // With STARTTLS offered, credentials wait for TLS as they would on a real server.
    allowInsecureAuth: !starttls,
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
    closeTimeout: 1000,
    maxClients: parsed.maxClients ?? DEFAULT_LIMITS.maxClients,
    socketTimeout: (parsed.idleSecs ?? DEFAULT_LIMITS.idleSecs) * 1000,
    ...(parsed.size !== undefined ? { size: parsed.size } : {}),
    ...(certificate ? { key: certificate.key, cert: certificate.cert } : {}),
    onAuth(credentials, _session, callback) {
      callback(null, { user: credentials.username ?? '' });
    },
    onSecure(socket, _session, callback) {
      // After STARTTLS the plain socket sees no more data: watch the TLS one.
      deadline.watch(socket as Socket);
      callback();
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= maxRecipients) {
        callback(replyError(452, `4.5.3 too many recipients (at most ${maxRecipients} per message)`));
        return;
      }
      callback(policyReply(parsed.refuse, address.address));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      deliver(dir, stream, parsed.size).then(
        (path) => {
          const captured: CapturedMessage = {
            path,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            size: stream.byteLength,
            secure: session.secure,
            client: session.hostNameAppearsAs,
            ...(session.user !== undefined ? { user: String(session.user) } : {}),
          };
          try {
            parsed.onMessage?.(captured);
          } catch {
            // The message is stored; a failing observer must not turn that into a refusal.
          }
          callback(null, `2.0.0 stored as ${basename(path)}`);
        },
        (error: Error) =>
          // A message over the size limit was never published: smtp-server answers 552 for it.
          error instanceof TooLargeError
            ? callback(replyError(552, `5.3.4 message too big (at most ${error.limit} bytes)`))
            : callback(replyError(451, `4.3.0 could not store the message: ${error.message}`)),
      );
    },
  };

  const server = new SMTPServer(serverOptions);
  server.server.prependListener('connection', (socket: Socket) => deadline.watch(socket));
  let listening = false;
  await new Promise<void>((resolve, reject) => {
    // smtp-server re-emits its listener's errors and each connection's; before
    // listening they mean the server could not start, afterwards they concern
    // one client (one that vanished mid-session) and are not the server's failure.
    server.on('error', (error: Error) => {
      if (!listening) reject(error);
    });
    server.listen(parsed.port ?? 0, host, () => {
      listening = true;
      resolve();
    });
  });
  const address = server.server.address();
  const port = address !== null && typeof address === 'object' ? address.port : (parsed.port ?? 0);

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    dir,
    ...(certificate ? { cert: certificate.cert } : {}),
    close() {
      closing ??= new Promise<void>((resolve) => {
        // smtp-server waits for open sessions up to closeTimeout; a client stalled in DATA is then cut off here.
        const force = setTimeout(() => deadline.destroyAll(), 1000).unref();
        server.close(() => {
          clearTimeout(force);
          deadline.stop();
          resolve();
        });
      });
      return closing;
    },
  };
}
