/**
 * The npm `smtp-server` in-process on 127.0.0.1:0, the real peer for happy-path
 * tests: it records what it accepted and checks credentials from a table.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';

export interface AcceptedMessage {
  mailFrom: string;
  /** ESMTP parameters of MAIL FROM, keys uppercased (e.g. SIZE, BODY). */
  mailArgs: Record<string, string | boolean>;
  rcptTo: string[];
  data: Buffer;
  user: string | undefined;
  secure: boolean;
}

export interface RealServer {
  server: SMTPServer;
  port: number;
  messages: AcceptedMessage[];
  /** Connections accepted so far. */
  connections: number;
  /** Every AUTH attempt: mechanism, user name, and whether it succeeded. */
  auths: Array<{ method: string; username: string | undefined; ok: boolean }>;
  close(): Promise<void>;
}

export interface RealServerOptions extends SMTPServerOptions {
  /** user → password, for PLAIN, LOGIN and CRAM-MD5. */
  users?: Record<string, string>;
  /** user → OAuth 2.0 token, for XOAUTH2. */
  tokens?: Record<string, string>;
  /** Recipients refused with 550 5.1.1. */
  refuse?: string[];
}

interface CramAuthentication {
  method: string;
  username?: string;
  password?: string;
  accessToken?: string;
  validatePassword?: (password: string) => boolean;
}

export async function realServer(options: RealServerOptions = {}): Promise<RealServer> {
  const { users = {}, tokens = {}, refuse = [], ...rest } = options;
  const messages: AcceptedMessage[] = [];
  const auths: RealServer['auths'] = [];
  // Filled in once the server listens; the handlers below count into it from the first connection.
  const result: RealServer = {
    server: undefined as unknown as SMTPServer,
    port: 0,
    messages,
    connections: 0,
    auths,
    close: () =>
      new Promise<void>((resolve) => {
        result.server.close(() => resolve());
      }),
  };
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    // Connections a test left open are closed at once when the server closes.
    closeTimeout: 50,
    ...rest,
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void) {
      result.connections++;
      callback();
    },
    onAuth(auth: SMTPServerAuthentication, _session: SMTPServerSession, callback) {
      const a = auth as unknown as CramAuthentication;
      const user = a.username ?? '';
      let ok = false;
      if (a.method === 'XOAUTH2') ok = tokens[user] !== undefined && tokens[user] === a.accessToken;
      else if (a.method === 'CRAM-MD5') ok = users[user] !== undefined && a.validatePassword!(users[user]);
      else ok = users[user] !== undefined && users[user] === a.password;
      auths.push({ method: a.method, username: a.username, ok });
      if (ok) return callback(null, { user });
      if (a.method === 'XOAUTH2') return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } });
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (refuse.includes(address.address)) {
        const error = new Error('5.1.1 no such user') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mailFrom = session.envelope.mailFrom;
        messages.push({
          mailFrom: mailFrom ? mailFrom.address : '',
          mailArgs: mailFrom && mailFrom.args ? (mailFrom.args) : {},
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          user: session.user as string | undefined,
          secure: session.secure,
        });
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  result.server = server;
  result.port = port;
  return result;
}
