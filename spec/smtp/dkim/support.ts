/**
 * An independent DKIM verifier for the tests: the npm `mailauth` package, with
 * a stub resolver that serves the public keys' TXT records from memory (no
 * network), and mailauth's own signer for the body hash it computes.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { dkimSign as mailauthSign, dkimVerify } from 'mailauth';
import { dkimRecord } from '../../../smtp/dkim/sign';

export interface TestKey {
  privateKey: KeyObject;
  pem: string;
  record: string;
}

export function rsaKey(bits = 2048): TestKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: dkimRecord(privateKey) };
}

export function ed25519Key(): TestKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: dkimRecord(privateKey) };
}

/** TXT records by name, served as `dns.resolveTxt` would (each record a list of strings). */
export function stubResolver(records: Record<string, string>) {
  return async (name: string, type: string): Promise<string[][]> => {
    const record = records[name.toLowerCase()];
    if (type === 'TXT' && record !== undefined) return [record.match(/.{1,255}/g) as string[]];
    throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  };
}

export interface Verdict {
  result: string;
  domain: string;
  selector: string | undefined;
  algorithm: string | undefined;
  canonicalization: string | undefined;
  info: string;
}

/** Verifies every DKIM-Signature of a message with mailauth. */
export async function verifyAll(message: string | Buffer, records: Record<string, string>): Promise<Verdict[]> {
  const { results } = await dkimVerify(message, { resolver: stubResolver(records) });
  return results.map((r) => ({
    result: r.status.result,
    domain: r.signingDomain,
    selector: r.selector,
    // The type declarations name these `algorithm` and `canonicalization`; the objects carry `algo` and `format`.
    algorithm: (r as { algo?: string }).algo ?? r.algorithm,
    canonicalization: (r as { format?: string }).format ?? r.canonicalization,
    info: r.info,
  }));
}

/** The relaxed body hash that mailauth's own signer computes for a message (CRLF line ends). */
export async function mailauthBodyHash(message: string | Buffer, key: TestKey, algorithm: string): Promise<string> {
  const { signatures, errors } = await mailauthSign(message, {
    canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: 'example.org', selector: 'ref', privateKey: key.pem, algorithm }],
  } as Parameters<typeof mailauthSign>[1]);
  if (errors.length > 0) throw errors[0];
  const match = /bh=([^;]+);/.exec(signatures.replace(/\s+/g, ''));
  if (!match) throw new Error(`no bh= in ${signatures}`);
  return match[1];
}

/** Line ends as the SMTP data codec writes them: CRLF, a bare CR and a bare LF each become CRLF. */
export function crlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

/** The message as the server stores it: line ends made CRLF, and the last line ended (RFC 5321 §4.1.1.4). */
export function wire(text: string): string {
  const lines = crlf(text);
  return lines === '' || lines.endsWith('\r\n') ? lines : lines + '\r\n';
}
