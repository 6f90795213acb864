/**
 * DKIM verification for the inbox (RFC 6376, RFC 8463), with node:crypto and
 * without DNS: a capture server that queried DNS for every message would tell
 * the sender's domain that the mail was opened, so keys come from a file the
 * user gives (`--dkim-keys FILE`, lines of `SELECTOR._domainkey.DOMAIN RECORD`).
 * Without a key the body hash is still checked and the signature reported as
 * not verified.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../args';

/** What the inbox shows about one DKIM-Signature field. */
export interface DkimResult {
  domain: string;
  selector: string;
  algorithm: string;
  /** `pass`: body hash and signature hold; `fail`: one of them does not; `unverified`: the body hash holds, no key to check the signature. */
  result: 'pass' | 'fail' | 'unverified';
  bodyHash: 'pass' | 'fail';
  /** Why, in words. */
  reason: string;
}

/** DNS names (`selector._domainkey.domain`, lower case) to their TXT record text. */
export type DkimKeys = ReadonlyMap<string, string>;

/** Reads a key file: `NAME RECORD` per line, the record optionally in double quotes; `#` starts a comment. */
export function readDkimKeys(file: string): DkimKeys {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--dkim-keys: cannot read ${file}: ${(error as Error).message}`);
  }
  const keys = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match = /^(\S+)\s+(?:IN\s+)?(?:TXT\s+)?(.+)$/i.exec(trimmed);
    if (!match || !/\._domainkey\./i.test(match[1])) {
      throw new UsageError(`--dkim-keys: ${file} line ${index + 1}: expected "SELECTOR._domainkey.DOMAIN v=DKIM1; k=...; p=..."`);
    }
    // A zone file may split the record into quoted strings: they join without spaces.
    const record = match[2].includes('"') ? [...match[2].matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('') : match[2];
    keys.set(match[1].replace(/\.$/, '').toLowerCase(), record);
  });
  return keys;
}

function tags(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of text.split(';')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    out.set(item.slice(0, eq).trim(), item.slice(eq + 1).replace(/[ \t\r\n]+/g, ''));
  }
  return out;
}

interface Field {
  name: string;
  /** `name:value` as written, folding kept, without the final CRLF. */
  raw: string;
}

function relaxedField(name: string, value: string): string {
  const unfolded = value.replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
  return `${name.replace(/[ \t]+$/, '').toLowerCase()}:${unfolded}\r\n`;
}

function canonField(field: Field, relaxed: boolean): string {
  if (!relaxed) return `${field.raw}\r\n`;
  const colon = field.raw.indexOf(':');
  return relaxedField(field.raw.slice(0, colon), field.raw.slice(colon + 1));
}

function canonBody(body: string, relaxed: boolean): string {
  let text = body;
  if (relaxed) text = text.replace(/[ \t]+\r\n/g, '\r\n').replace(/[ \t]+/g, ' ');
  text = text.replace(/(\r\n)+$/, '');
  if (text === '') return relaxed ? '' : '\r\n';
  return `${text}\r\n`;
}

function publicKey(record: string, algorithm: string): KeyObject {
  const t = tags(record);
  const p = t.get('p') ?? '';
  if (p === '') throw new Error('the key record has an empty p= (the key was revoked)');
  const der = Buffer.from(p, 'base64');
  if (algorithm === 'ed25519-sha256') {
    // RFC 8463: p= is the raw 32-octet key; SubjectPublicKeyInfo wraps it with a fixed prefix.
    return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), der]), format: 'der', type: 'spki' });
  }
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** Verifies every DKIM-Signature of the message in `bytes`; an empty list when it is not signed. */
export function verifyDkim(bytes: Buffer, keys: DkimKeys): DkimResult[] {
  // One character per octet, every line end made CRLF (as the SMTP data codec reads them).
  const text = bytes.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4);
  const fields: Field[] = [];
  for (const line of head.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) fields[fields.length - 1].raw += `\r\n${line}`;
    else if (line.includes(':')) fields.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line });
  }
  return fields.filter((f) => f.name === 'dkim-signature').map((signature) => verifyOne(signature, fields, body, keys));
}

function verifyOne(signature: Field, fields: Field[], body: string, keys: DkimKeys): DkimResult {
  const t = tags(signature.raw.slice(signature.raw.indexOf(':') + 1));
  const domain = t.get('d') ?? '';
  const selector = t.get('s') ?? '';
  const algorithm = t.get('a') ?? '';
  const base = { domain, selector, algorithm };
  const fail = (reason: string, bodyHash: 'pass' | 'fail' = 'fail'): DkimResult => ({ ...base, result: 'fail', bodyHash, reason });
  if (algorithm !== 'rsa-sha256' && algorithm !== 'ed25519-sha256') return fail(`algorithm ${JSON.stringify(algorithm)} is not supported`);
  if (domain === '' || selector === '' || !t.has('b') || !t.has('bh') || !t.has('h')) return fail('the signature lacks d=, s=, b=, bh= or h=');
  const [headerCanon, bodyCanon = 'simple'] = (t.get('c') ?? 'simple/simple').split('/');
  let canonical = canonBody(body, bodyCanon === 'relaxed');
  const length = t.get('l');
  if (length !== undefined) canonical = canonical.slice(0, Number(length));
  const bodyHash = createHash('sha256').update(canonical, 'latin1').digest('base64');
  if (bodyHash !== t.get('bh')) return fail('the body hash does not match: the body changed after signing');

  const record = keys.get(`${selector}._domainkey.${domain}`.toLowerCase());
  if (record === undefined) {
    return { ...base, result: 'unverified', bodyHash: 'pass', reason: `body hash matches; no key for ${selector}._domainkey.${domain} (give it with --dkim-keys; DNS is not queried)` };
  }
  // h= names fields bottom-up: each name takes the last instance not yet used.
  const used = new Set<Field>();
  const relaxed = headerCanon === 'relaxed';
  let signed = '';
  for (const name of (t.get('h') ?? '').split(':').map((n) => n.trim().toLowerCase())) {
    const field = fields.filter((f) => f.name === name && !used.has(f)).pop();
    if (!field) continue;
    used.add(field);
    signed += canonField(field, relaxed);
  }
  // The signature field itself, its b= value emptied, without the final CRLF.
  const blank: Field = { name: signature.name, raw: signature.raw.replace(/([:;][ \t\r\n]*b[ \t\r\n]*=)[^;]*/, '$1') };
  signed += canonField(blank, relaxed).replace(/\r\n$/, '');
  try {
    const key = publicKey(record, algorithm);
    const b = Buffer.from(t.get('b') ?? '', 'base64');
    const data = Buffer.from(signed, 'latin1');
    const ok = algorithm === 'rsa-sha256' ? verify('sha256', data, key, b) : verify(null, createHash('sha256').update(data).digest(), key, b);
    return ok ? { ...base, result: 'pass', bodyHash: 'pass', reason: 'body hash and signature verified' } : fail('the signature does not verify: a signed header changed, or another key signed it', 'pass');
  } catch (error) {
    return fail(`the key could not be used: ${(error as Error).message}`, 'pass');
  }
}
