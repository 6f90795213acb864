/**
 * Certificates for TLS tests, generated at run time (nothing secret is checked in).
 * A throw-away CA signs a leaf for the given host names, so a test can pass `ca`
 * and see both verification succeed and host-name checks fail for another name.
 */
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface TestCertificate {
  /** The leaf's private key (PEM), for the server. */
  key: string;
  /** The leaf certificate (PEM), for the server. */
  cert: string;
  /** The CA certificate (PEM) that signed the leaf, for the client's `ca` option. */
  ca: string;
}

const cache = new Map<string, Promise<TestCertificate>>();

async function make(hosts: string[]): Promise<TestCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 7 * 24 * 3600_000);
  const authority = await generate([{ name: 'commonName', value: 'tclmail test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: authority.private, cert: authority.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: hosts.map((host) => (isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host })),
      },
    ],
  });
  return { key: leaf.private, cert: leaf.cert, ca: authority.cert };
}

/**
 * A CA-signed server certificate valid for `hosts` (DNS names and IP addresses),
 * cached per process and per host list.
 */
export function testCertificate(hosts: string[] = ['localhost', '127.0.0.1']): Promise<TestCertificate> {
  const key = hosts.join(',');
  let found = cache.get(key);
  if (!found) {
    found = make(hosts);
    cache.set(key, found);
  }
  return found;
}
