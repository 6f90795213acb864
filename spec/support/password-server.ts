/**
 * The npm smtp-server on 127.0.0.1 with STARTTLS (a certificate made for
 * 127.0.0.1) and AUTH required: it takes one password, `correct horse`, for
 * any user, and records every login with whether it came over TLS, so that
 * a test can tell that the password went out only encrypted.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { generateCertificate } from '../../cli/certificate';

export interface PasswordServer {
  port: number;
  /** The certificate's PEM, for the client's `--ca`. */
  cert: string;
  /** Every login: user, password and whether the session was secure. */
  logins: Array<[string, string, boolean]>;
  close(): Promise<void>;
}

export async function passwordServer(): Promise<PasswordServer> {
  const { key, cert } = await generateCertificate('127.0.0.1');
  const logins: PasswordServer['logins'] = [];
  const server = new SMTPServer({
    key,
    cert,
    logger: false,
    disableReverseLookup: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(credentials, session, callback) {
      logins.push([credentials.username ?? '', credentials.password ?? '', session.secure]);
      if (credentials.password === 'correct horse') callback(null, { user: credentials.username });
      else callback(Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }));
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback(null));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    cert,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
