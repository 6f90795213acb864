/**
 * The inbox's DKIM verifier against signatures made by two signers: tclmail's
 * own (relaxed/relaxed, RSA and Ed25519) and mailauth's (every
 * canonicalization pair), each checked both ways: untouched it passes, a
 * changed header or body fails, and without a key only the body hash counts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimSign as mailauthSign } from 'mailauth';
import { dkimSign } from '../../../smtp';
import { readDkimKeys, verifyDkim } from '../../../cli/web/dkim';
import { ed25519Key, rsaKey, wire } from '../../smtp/dkim/support';
import type { TestKey } from '../../smtp/dkim/support';

const MESSAGE = wire('From: Ann <ann@example.org>\nTo: bob@example.net\nSubject: Quarterly  figures\n\tfolded on\nDate: Mon, 7 Dec 2026 08:00:00 +0000\n\nHello  Bob, \n\nthe figures.\n\n\n');

const rsa = rsaKey();
const ed = ed25519Key();

async function mailauthSigned(key: TestKey, algorithm: string, canonicalization: string): Promise<string> {
  const { signatures, errors } = await mailauthSign(MESSAGE, {
    canonicalization,
    signatureData: [{ signingDomain: 'example.org', selector: 'sel', privateKey: key.pem, algorithm }],
  } as Parameters<typeof mailauthSign>[1]);
  if (errors.length > 0) throw errors[0];
  return signatures + MESSAGE;
}

describe('verifyDkim', () => {
  test.each([
    ['rsa-sha256', rsa],
    ['ed25519-sha256', ed],
  ] as const)('passes what tclmail signed with %s, fails it changed', async (algorithm, key) => {
    const { field } = await dkimSign(MESSAGE, { domain: 'example.org', selector: 'sel', privateKey: key.privateKey });
    const keys = new Map([['sel._domainkey.example.org', key.record]]);
    const signed = Buffer.from(field + MESSAGE, 'latin1');
    expect(verifyDkim(signed, keys)).toEqual([expect.objectContaining({ domain: 'example.org', selector: 'sel', algorithm, result: 'pass', bodyHash: 'pass' })]);
    const header = Buffer.from(signed.toString('latin1').replace('Quarterly', 'Monthly'), 'latin1');
    expect(verifyDkim(header, keys)[0]).toMatchObject({ result: 'fail', bodyHash: 'pass' });
    const body = Buffer.from(signed.toString('latin1').replace('the figures', 'other figures'), 'latin1');
    expect(verifyDkim(body, keys)[0]).toMatchObject({ result: 'fail', bodyHash: 'fail' });
  });

  test.each(['simple/simple', 'relaxed/relaxed', 'simple/relaxed', 'relaxed/simple'])('passes what mailauth signed with %s', async (canonicalization) => {
    const signed = Buffer.from(await mailauthSigned(rsa, 'rsa-sha256', canonicalization), 'latin1');
    const keys = new Map([['sel._domainkey.example.org', rsa.record]]);
    expect(verifyDkim(signed, keys)[0]).toMatchObject({ result: 'pass', reason: 'body hash and signature verified' });
    // Another key under the same name: the signature no longer holds.
    expect(verifyDkim(signed, new Map([['sel._domainkey.example.org', rsaKey(1024).record]]))[0]).toMatchObject({ result: 'fail', bodyHash: 'pass' });
  });

  test('without a key only the body hash is checked, and an unsigned message gives nothing', async () => {
    const { field } = await dkimSign(MESSAGE, { domain: 'example.org', selector: 'sel', privateKey: rsa.privateKey });
    const [result] = verifyDkim(Buffer.from(field + MESSAGE), new Map());
    expect(result).toMatchObject({ result: 'unverified', bodyHash: 'pass' });
    expect(result.reason).toContain('no key for sel._domainkey.example.org');
    expect(verifyDkim(Buffer.from(MESSAGE), new Map())).toEqual([]);
  });

  test('reads a key file with zone-file quoting and refuses a line that is not a key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tclmail-dkim-'));
    const file = join(dir, 'keys.txt');
    const half = Math.floor(rsa.record.length / 2);
    writeFileSync(file, `# keys\nsel._domainkey.example.org. IN TXT "${rsa.record.slice(0, half)}" "${rsa.record.slice(half)}"\nx._domainkey.example.net v=DKIM1; p=\n`);
    const keys = readDkimKeys(file);
    expect(keys.get('sel._domainkey.example.org')).toBe(rsa.record);
    expect(keys.get('x._domainkey.example.net')).toBe('v=DKIM1; p=');
    writeFileSync(file, 'example.org v=DKIM1\n');
    expect(() => readDkimKeys(file)).toThrow(/line 1: expected "SELECTOR._domainkey.DOMAIN/);
  });
});
