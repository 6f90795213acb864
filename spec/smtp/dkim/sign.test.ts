/**
 * DKIM signing (RFC 6376, RFC 8463) proven by an independent verifier: every
 * message signed here is verified by the npm `mailauth` package, with the
 * public key served from a stub resolver, and the body hash is compared with
 * the one mailauth's own signer computes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { InvalidInputError, OptionError } from '../../../lib/errors';
import { DkimSigner, dkimRecord, dkimSign } from '../../../smtp/dkim/sign';
import { crlf, ed25519Key, mailauthBodyHash, rsaKey, type TestKey, verifyAll, wire } from './support';

const MESSAGE = crlf(`From: Ann <ann@example.org>
To: bob@example.net
Subject: Hello  there,
 folded	subject
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
X-Mailer: test

Hi Bob,
  spaced   out  words \t
.a line with a dot

`);

let rsa: TestKey;
let ed: TestKey;
beforeAll(() => {
  rsa = rsaKey();
  ed = ed25519Key();
});

const recordsFor = (selector: string, key: TestKey, domain = 'example.org'): Record<string, string> => ({
  [`${selector}._domainkey.${domain}`]: key.record,
});

/** Splits text into chunks at the given cut points (used by the property tests). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out;
}

describe('dkimSign verified by mailauth', () => {
  it.each([
    ['rsa-sha256', () => rsa],
    ['ed25519-sha256', () => ed],
  ])('signs with %s and the signature verifies', async (algorithm, key) => {
    const sig = await dkimSign(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: key().pem });
    expect(sig.field.replace(/\r\n\t/g, ' ')).toMatch(/^DKIM-Signature: v=1; a=[a-z0-9-]+; c=relaxed\/relaxed; d=example\.org; s=s1; t=\d+; bh=/);
    expect(sig.field).toContain(`a=${algorithm};`);
    expect(sig.field.endsWith('\r\n')).toBe(true);
    for (const line of sig.field.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const verdicts = await verifyAll(sig.field + MESSAGE, recordsFor('s1', key()));
    expect(verdicts).toEqual([
      expect.objectContaining({ result: 'pass', domain: 'example.org', selector: 's1', algorithm, canonicalization: 'relaxed/relaxed' }),
    ]);
  });

  it.each([['rsa-sha256'], ['ed25519-sha256']])('computes the same body hash as mailauth (%s)', async (algorithm) => {
    const key = algorithm === 'rsa-sha256' ? rsa : ed;
    const sig = await dkimSign(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: key.privateKey });
    expect(sig.bodyHash).toBe(await mailauthBodyHash(MESSAGE, key, algorithm));
  });

  it('signs the usual fields present, in order, and From once more than it occurs', async () => {
    const sig = await dkimSign(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: ed.pem });
    expect(sig.signedFields).toEqual(['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'from']);
    expect(sig.field.replace(/\s+/g, '')).toContain('h=from:to:subject:date:message-id:mime-version:content-type:from;');
  });

  it('signs exactly the fields asked for, as a list or as an h= string', async () => {
    for (const headers of [['From', 'Subject', 'X-Mailer'], 'from:subject:x-mailer']) {
      const sig = await dkimSign(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: ed.pem, headers });
      expect(sig.signedFields).toEqual(['from', 'subject', 'x-mailer']);
      const [verdict] = await verifyAll(sig.field + MESSAGE, recordsFor('s1', ed));
      expect(verdict.result).toBe('pass');
      // X-Mailer is now signed: changing it breaks the signature.
      const [changed] = await verifyAll(sig.field + MESSAGE.replace('X-Mailer: test', 'X-Mailer: other'), recordsFor('s1', ed));
      expect(changed.result).toBe('fail');
    }
  });

  it('signs a field that occurs twice, bottom-up, and both instances are covered', async () => {
    const message = crlf('Received: from a\nReceived: from b\nFrom: ann@example.org\n\nbody\n');
    const sig = await dkimSign(message, { domain: 'example.org', selector: 's1', privateKey: ed.pem, headers: ['from', 'received', 'received'] });
    expect((await verifyAll(sig.field + message, recordsFor('s1', ed)))[0].result).toBe('pass');
    for (const tampered of [message.replace('from a', 'from x'), message.replace('from b', 'from x')]) {
      expect((await verifyAll(sig.field + tampered, recordsFor('s1', ed)))[0].result).toBe('fail');
    }
  });

  it('fails verification when the body, a signed field, or an added From changes the message', async () => {
    const sig = await dkimSign(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: rsa.pem });
    const records = recordsFor('s1', rsa);
    const tampered: Array<[string, string]> = [
      [MESSAGE.replace('Hi Bob', 'Hi Eve'), 'body hash did not verify'],
      [MESSAGE + 'appended\r\n', 'body hash did not verify'],
      [MESSAGE.replace('bob@example.net', 'eve@example.net'), 'bad signature'],
      // The oversigned From: a second From cannot be slipped in.
      ['From: eve@example.com\r\n' + MESSAGE, 'bad signature'],
    ];
    for (const [message, why] of tampered) {
      const [verdict] = await verifyAll(sig.field + message, records);
      expect(verdict.result).not.toBe('pass');
      expect(verdict.info).toContain(why);
    }
    // An unsigned field and the white space that relaxed canonicalization ignores may change.
    const benign = [
      MESSAGE.replace('X-Mailer: test', 'X-Mailer: changed'),
      MESSAGE.replace('Subject: Hello  there,', 'Subject:   Hello there,  '),
      MESSAGE.replace('To: bob@example.net', 'TO :\r\n  bob@example.net'),
      MESSAGE.replace('spaced   out', 'spaced out') + '\r\n\r\n',
    ];
    for (const message of benign) {
      const [verdict] = await verifyAll(sig.field + message, records);
      expect(verdict.result).toBe('pass');
    }
  });

  it('reads a stream in any chunking and gives the same signature as the whole text', async () => {
    const when = new Date('2024-05-01T12:00:00Z');
    const signer = new DkimSigner({ domain: 'example.org', selector: 's1', privateKey: ed.pem });
    const whole = await signer.sign(MESSAGE, when);
    const bytes = Buffer.from(MESSAGE);
    for (let size = 1; size <= 7; size++) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
      expect(await signer.sign(Readable.from(pieces), when)).toEqual(whole);
    }
    expect(whole.field).toContain(`t=${when.getTime() / 1000};`);
  });

  it('signs what the data codec transmits: bare CR and bare LF read as CRLF', async () => {
    const raw = 'From: ann@example.org\nSubject: mixed\r\rline ends\n\nbody\rwith\r\r\nbare\n\n\n';
    const sig = await dkimSign(raw, { domain: 'example.org', selector: 's1', privateKey: ed.pem });
    const sent = wire(raw);
    expect((await verifyAll(sig.field + sent, recordsFor('s1', ed)))[0].result).toBe('pass');
    expect(sig.bodyHash).toBe(await mailauthBodyHash(sent, ed, 'ed25519-sha256'));
  });

  it.each([
    ['an empty body', 'From: ann@example.org\r\nSubject: x\r\n\r\n'],
    ['only empty lines', 'From: ann@example.org\r\n\r\n\r\n\r\n \r\n\t\r\n'],
    ['no final line end', 'From: ann@example.org\r\n\r\nlast line   '],
    ['leading empty lines', 'From: ann@example.org\r\n\r\n\r\n\r\n  x\r\n'],
    ['a white space line without line end', 'From: ann@example.org\r\n\r\n \t '],
  ])('handles %s as mailauth does', async (_what, message) => {
    const sig = await dkimSign(message, { domain: 'example.org', selector: 's1', privateKey: ed.pem });
    // What the server stores: the data codec ends the last line.
    const sent = wire(message);
    expect(sig.bodyHash).toBe(await mailauthBodyHash(sent, ed, 'ed25519-sha256'));
    expect((await verifyAll(sig.field + sent, recordsFor('s1', ed)))[0].result).toBe('pass');
  });

  it('signs a message without an empty line as one with an empty body', async () => {
    const message = 'From: ann@example.org\r\nSubject: x\r\n';
    const sig = await dkimSign(message, { domain: 'example.org', selector: 's1', privateKey: ed.pem });
    // The SHA-256 of nothing: relaxed canonicalization of an empty body (RFC 6376 section 3.4.4).
    expect(sig.bodyHash).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    // mailauth needs the empty line to find the header's end; with it the same signature verifies.
    expect((await verifyAll(sig.field + message + '\r\n', recordsFor('s1', ed)))[0].result).toBe('pass');
  });

  it('signs raw UTF-8 in header and body (an SMTPUTF8 message) byte for byte', async () => {
    const message = 'From: Jörg <jörg@bücher.example>\r\nSubject: Grüße  aus   Köln\r\n\r\nSchöne Grüße\u3000!\r\n';
    const sig = await dkimSign(Buffer.from(message), { domain: 'bücher.example', selector: 's1', privateKey: rsa.pem });
    expect(sig.field).toContain('d=xn--bcher-kva.example;');
    const verdicts = await verifyAll(Buffer.concat([Buffer.from(sig.field), Buffer.from(message)]), recordsFor('s1', rsa, 'xn--bcher-kva.example'));
    expect(verdicts[0].result).toBe('pass');
  });

  it('hashes a large streamed body as mailauth does', async () => {
    const line = Buffer.from('Lorem ipsum  dolor\tsit amet, consectetur adipiscing elit  \r\n');
    const header = Buffer.from('From: ann@example.org\r\nSubject: big\r\n\r\n');
    const count = 64 * 1024; // about 4 MB
    async function* body(): AsyncGenerator<Buffer> {
      yield header;
      const block = Buffer.concat(Array.from({ length: 256 }, () => line));
      for (let i = 0; i < count / 256; i++) yield block;
    }
    const sig = await dkimSign(body(), { domain: 'example.org', selector: 's1', privateKey: ed.pem });
    const whole = Buffer.concat([header, Buffer.concat(Array.from({ length: count }, () => line))]);
    expect(sig.bodyHash).toBe(await mailauthBodyHash(whole, ed, 'ed25519-sha256'));
    expect((await verifyAll(Buffer.concat([Buffer.from(sig.field), whole]), recordsFor('s1', ed)))[0].result).toBe('pass');
  });

  it('property: any message, any chunking, verifies and matches mailauth', async () => {
    const signer = new DkimSigner({ domain: 'example.org', selector: 'p', privateKey: ed.privateKey });
    const text = fc.string({ unit: fc.constantFrom('a', 'B', ' ', '\t', '\r', '\n', '.', ':', 'é', 'x', '\r\n'), maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(text, text, fc.array(fc.nat(200), { maxLength: 6 }), async (subject, body, cuts) => {
        // A subject value may not hold a line end unless a continuation (WSP) follows it.
        const value = subject.replace(/(\r\n|\r|\n)(?![ \t])/g, '$1 ');
        const message = `From: ann@example.org\r\nSubject:${value}\r\n\r\n${body}`;
        const bytes = Buffer.from(message);
        const when = new Date(1_700_000_000_000);
        const whole = await signer.sign(bytes, when);
        expect(await signer.sign(chunked(bytes, cuts), when)).toEqual(whole);
        const sent = Buffer.from(wire(message));
        expect(whole.bodyHash).toBe(await mailauthBodyHash(sent, ed, 'ed25519-sha256'));
        const [verdict] = await verifyAll(Buffer.concat([Buffer.from(whole.field), sent]), { 'p._domainkey.example.org': ed.record });
        expect(verdict.result).toBe('pass');
      }),
      { numRuns: 60 },
    );
  });
});

describe('DkimSigner options', () => {
  const base = () => ({ domain: 'example.org', selector: 's1', privateKey: ed.pem });

  it('accepts a Tcl-style key/value list', async () => {
    const signer = new DkimSigner(['domain', 'example.org', 'selector', 's1', 'privateKey', ed.pem, 'headers', 'From To']);
    expect(signer.headers).toEqual(['from', 'to']);
    const sig = await signer.sign(MESSAGE);
    expect((await verifyAll(sig.field + MESSAGE, recordsFor('s1', ed)))[0].result).toBe('pass');
  });

  it('publishes the key as RFC 6376 and RFC 8463 TXT records', () => {
    expect(ed.record).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(ed.record.split('p=')[1], 'base64')).toHaveLength(32);
    expect(rsa.record).toMatch(/^v=DKIM1; k=rsa; p=MIIB/);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => dkimRecord(privateKey)).toThrow(InvalidInputError);
  });

  it.each([
    ['a missing key', { privateKey: undefined }, /privateKey is missing/],
    ['an unknown key', { identity: 'a@b' }, /unknown key "identity"/],
    ['a domain with a space', { domain: 'exa mple.org', selector: 's1' }, /domain:/],
    ['an empty selector', { domain: 'example.org', selector: '' }, /selector:/],
    ['a key that is not a key', { privateKey: 'not a pem' }, /not a readable private key/],
    ['headers without From', { headers: ['to', 'subject'] }, /From must be signed/],
    ['a field name with a colon', { headers: ['from', 'x:y'] }, /not a field name/],
    ['an algorithm that does not match the key', { algorithm: 'rsa-sha256' }, /does not match the ed25519 key/],
    ['rsa-sha1', { algorithm: 'rsa-sha1' }, /not rsa-sha256 or ed25519-sha256/],
  ])('refuses %s with an OptionError naming dkim', (_what, change, message) => {
    const options = { ...base(), ...change } as Record<string, unknown>;
    let error: unknown;
    try {
      new DkimSigner(options, 'smtp.sendmessage');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OptionError);
    expect(error).toMatchObject({ option: 'dkim', command: 'smtp.sendmessage' });
    expect((error as Error).message).toMatch(message);
    // The key's text never appears in an error.
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });

  it('refuses RSA keys shorter than 1024 bits and keys of other types', () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey;
    expect(() => new DkimSigner({ ...base(), privateKey: short })).toThrow(/768 bits is too short/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => new DkimSigner({ ...base(), privateKey: ec })).toThrow(/a ec key cannot sign DKIM/);
    const pub = generateKeyPairSync('ed25519').publicKey;
    expect(() => new DkimSigner({ ...base(), privateKey: pub })).toThrow(/not a private key/);
  });

  it('refuses a header block it cannot read rather than guess', async () => {
    const signer = new DkimSigner(base());
    await expect(signer.sign('From: ann@example.org\r\nnot a field\r\n\r\nbody')).rejects.toThrow(InvalidInputError);
    await expect(signer.sign(' continued\r\nFrom: a@b\r\n\r\n')).rejects.toThrow(/starts with a continuation/);
    async function* endless(): AsyncGenerator<Buffer> {
      yield Buffer.from('From: ann@example.org\r\nX-Long: ');
      for (let i = 0; i < 40; i++) yield Buffer.alloc(32 * 1024, 0x61);
    }
    await expect(signer.sign(endless())).rejects.toThrow(/header block is longer than/);
  });
});
