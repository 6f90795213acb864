/**
 * A throw-away certificate for the capture server's STARTTLS. It is made at
 * start-up, never written to a shared place, and names the loopback addresses
 * (and the listening host) so that a client given it as its CA verifies the
 * server properly instead of switching verification off.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface Certificate {
  /** The private key, PEM. */
  key: string;
  /** The certificate, PEM: give it to a client as `ca` to trust the server. */
  cert: string;
}

/** Generates an EC P-256 certificate for `localhost`, 127.0.0.1, ::1 and `host`, valid for a week. */
export async function generateCertificate(host: string): Promise<Certificate> {
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  if (isIP(host) !== 0) {
    if (host !== '127.0.0.1' && host !== '::1') altNames.push({ type: 7, ip: host });
  } else if (host !== 'localhost') {
    altNames.push({ type: 2, value: host });
  }
  const notBeforeDate = new Date(Date.now() - 60_000); // tolerate a little clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + 7 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
