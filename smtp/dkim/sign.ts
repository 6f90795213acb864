/**
 * DKIM signing (RFC 6376) with rsa-sha256 or ed25519-sha256 (RFC 8463) and
 * relaxed/relaxed canonicalization, over the bytes the session transmits.
 *
 * The DKIM-Signature field goes before the header, yet it carries the body
 * hash: so the message is read once to sign it (the body is hashed as it
 * streams by, never held) and then read again to send it, with the field in
 * front. A token or a file can be read twice; a one-shot stream cannot.
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign as cryptoSign } from 'node:crypto';
import { InvalidInputError, OptionError } from '../../lib/errors';
import { toASCIIDomain } from '../../lib/idn';
import { isFieldName } from '../../mime/build/headers';
import { HeaderSplitter, type RawField, relaxedHeader, relaxedName, relaxedValue, RelaxedBodyHash } from './canon';

/** The signing algorithms: RSA with SHA-256 (RFC 6376), Ed25519 over SHA-256 (RFC 8463). rsa-sha1 is not offered (RFC 8301). */
export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/**
 * The `dkim` option: who signs and with which key.
 *
 * ```tcl
 * smtp::sendmessage $tok -dkim [list domain example.org selector mail2024 privateKey $pem]
 * ```
 * ```ts
 * await smtp.sendmessage(tok, { dkim: { domain: 'example.org', selector: 'mail2024', privateKey: pem } });
 * ```
 */
export interface DkimOptions {
  /** The signing domain, `d=` (a Unicode domain is written as A-labels). */
  domain: string;
  /** The selector, `s=`: the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /** The private key: PEM text, a PEM Buffer, or a Node KeyObject. RSA of at least 1024 bits, or Ed25519. */
  privateKey: string | Buffer | KeyObject;
  /**
   * The fields to sign, `h=`, in order (names, or one string `from:to:subject`).
   * Must include From. A name listed more often than the field occurs signs its
   * absence, so the field cannot be added later. Default: the usual fields that
   * are present, and From once more than it occurs ({@link DEFAULT_SIGNED_FIELDS}).
   */
  headers?: string[] | string;
  /** Default: from the key's type. */
  algorithm?: DkimAlgorithm;
}

/**
 * The fields signed by default, each as often as it occurs: the ones a reader
 * sees or a program acts on, so that none of them can be changed in transit.
 */
export const DEFAULT_SIGNED_FIELDS: readonly string[] = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-id', 'content-description',
  'in-reply-to', 'references',
  'resent-date', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-message-id',
  'list-id', 'list-help', 'list-unsubscribe', 'list-unsubscribe-post', 'list-subscribe', 'list-post', 'list-owner', 'list-archive',
];

const FOLD_WIDTH = 76;

/** What the message's header and body hash give: the DKIM-Signature field to put in front of it. */
export interface DkimSignature {
  /** The whole field, `DKIM-Signature: ...` folded, ending in CRLF. */
  field: string;
  /** The body hash, `bh=`, base64. */
  bodyHash: string;
  /** The field names signed, `h=`, in order. */
  signedFields: string[];
}

/** Anything the signer can read: text, bytes, or chunks from a stream or an async generator. */
export type DkimInput = string | Buffer | AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

/**
 * A checked `dkim` option, ready to sign any number of messages. Every check
 * is made here, so a bad domain, selector, key or field list fails before any
 * connection, as an {@link OptionError} naming `dkim`.
 */
export class DkimSigner {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  /** The fields given by the caller, or undefined for {@link DEFAULT_SIGNED_FIELDS}. */
  readonly headers: readonly string[] | undefined;
  private readonly key: KeyObject;

  /** `options` is a {@link DkimOptions} object, or the same as a flat key/value list (a Tcl dict). */
  constructor(options: unknown, command = 'smtp.dkim') {
    const o = readDkimOptions(options, command);
    const fail = (message: string): never => {
      throw new OptionError(command, 'dkim', `-dkim ${message}`);
    };
    this.domain = asciiName(typeof o.domain === 'string' ? o.domain : fail('domain: expected a string'), 'domain', fail);
    this.selector = asciiName(typeof o.selector === 'string' ? o.selector : fail('selector: expected a string'), 'selector', fail);

    this.key = privateKeyOf(o.privateKey, fail);
    const type = this.key.asymmetricKeyType;
    const natural: DkimAlgorithm =
      type === 'rsa' ? 'rsa-sha256' : type === 'ed25519' ? 'ed25519-sha256' : fail(`privateKey: a ${type} key cannot sign DKIM; use RSA or Ed25519`);
    if (o.algorithm !== undefined && o.algorithm !== 'rsa-sha256' && o.algorithm !== 'ed25519-sha256') {
      fail(`algorithm: ${JSON.stringify(o.algorithm)} is not rsa-sha256 or ed25519-sha256`);
    }
    if (o.algorithm !== undefined && o.algorithm !== natural) fail(`algorithm: ${o.algorithm} does not match the ${type} key`);
    this.algorithm = natural;
    // RFC 8301 §3.2: signers use at least 1024 bits; verifiers refuse less.
    const bits = this.key.asymmetricKeyDetails?.modulusLength;
    if (type === 'rsa' && (bits === undefined || bits < 1024)) fail(`privateKey: an RSA key of ${bits} bits is too short (at least 1024)`);

    if (o.headers !== undefined) {
      let names: unknown[];
      if (typeof o.headers === 'string') names = o.headers.split(/[\s:]+/).filter((name) => name !== '');
      else if (Array.isArray(o.headers)) names = o.headers;
      else names = fail('headers: expected a list of field names');
      const lower = names.map((name) =>
        typeof name === 'string' && isFieldName(name) ? name.toLowerCase() : fail(`headers: ${JSON.stringify(name)} is not a field name`),
      );
      // RFC 6376 §5.4: the From field must be signed.
      if (!lower.includes('from')) fail('headers: From must be signed (RFC 6376 section 5.4)');
      this.headers = lower;
    }
  }

  /**
   * Reads the message once, hashing its body as it streams by, and returns
   * the DKIM-Signature field to put in front of those same bytes. `time` is
   * the signing time, `t=` (default now).
   */
  async sign(message: DkimInput, time: Date = new Date()): Promise<DkimSignature> {
    const splitter = new HeaderSplitter();
    let body: RelaxedBodyHash | null = null;
    const feed = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const rest = splitter.push(bytes);
      if (splitter.fields) {
        body ??= new RelaxedBodyHash(splitter.endedWithCR);
        if (rest.length > 0) body.update(rest);
      }
    };
    if (typeof message === 'string' || Buffer.isBuffer(message)) feed(message);
    else if (Symbol.asyncIterator in message) for await (const chunk of message as AsyncIterable<Buffer | string>) feed(chunk);
    else for (const chunk of message as Iterable<Buffer | string>) feed(chunk);
    const fields = splitter.end();
    const bodyHash = (body ?? new RelaxedBodyHash()).digest().toString('base64');
    return this.signFields(fields, bodyHash, time);
  }

  /** Signs a header already read, given the body hash. */
  signFields(fields: readonly RawField[], bodyHash: string, time: Date = new Date()): DkimSignature {
    const signedFields = this.headers ? [...this.headers] : defaultFieldList(fields);
    const folder = new Folder('DKIM-Signature:');
    folder.add(' ', 'v=1;');
    folder.add(' ', `a=${this.algorithm};`);
    folder.add(' ', 'c=relaxed/relaxed;');
    folder.add(' ', `d=${this.domain};`);
    folder.add(' ', `s=${this.selector};`);
    folder.add(' ', `t=${Math.floor(time.getTime() / 1000)};`);
    folder.add(' ', `bh=${bodyHash};`);
    signedFields.forEach((name, i) => folder.add(i === 0 ? ' ' : '', `${i === 0 ? 'h=' : ''}${name}${i === signedFields.length - 1 ? ';' : ':'}`));
    folder.add(' ', 'b=');
    const unsigned = folder.text();

    // RFC 6376 §5.4.2: each name takes the last instance not yet used, counting from the bottom.
    const used = new Map<string, number>();
    let data = '';
    for (const name of signedFields) {
      const instances = fields.filter((field) => relaxedName(field.name) === name);
      const taken = used.get(name) ?? 0;
      used.set(name, taken + 1);
      const field = instances[instances.length - 1 - taken];
      if (field) data += relaxedHeader(field);
    }
    // The signature field itself last, with b= empty and without its CRLF (§3.7).
    data += `dkim-signature:${relaxedValue(unsigned.slice('DKIM-Signature:'.length))}`;
    const signature = this.signData(Buffer.from(data, 'latin1')).toString('base64');
    folder.addText(signature);
    return { field: folder.text() + '\r\n', bodyHash, signedFields };
  }

  private signData(data: Buffer): Buffer {
    if (this.algorithm === 'rsa-sha256') return cryptoSign('sha256', data, this.key);
    // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the data, not the data.
    return cryptoSign(null, createHash('sha256').update(data).digest(), this.key);
  }
}

/**
 * Signs one message: the DKIM-Signature field to put in front of it.
 *
 * ```ts
 * const { field } = await dkimSign(message, { domain: 'example.org', selector: 's1', privateKey: pem });
 * const signed = field + message;
 * ```
 */
export function dkimSign(message: DkimInput, options: DkimOptions, time?: Date): Promise<DkimSignature> {
  return new DkimSigner(options).sign(message, time);
}

/**
 * The TXT record to publish at `<selector>._domainkey.<domain>` for a key
 * (private or public): `v=DKIM1; k=rsa; p=...` with the key in DER
 * SubjectPublicKeyInfo, or `k=ed25519` with the raw 32-octet key (RFC 8463 §4).
 */
export function dkimRecord(key: string | Buffer | KeyObject): string {
  const pub = createPublicKey(key);
  const der = pub.export({ type: 'spki', format: 'der' });
  if (pub.asymmetricKeyType === 'rsa') return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
  if (pub.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519; p=${der.subarray(der.length - 32).toString('base64')}`;
  throw new InvalidInputError('key', `a ${pub.asymmetricKeyType} key cannot be a DKIM key`);
}

function readDkimOptions(options: unknown, command: string): Record<string, unknown> {
  let entries: Array<[string, unknown]>;
  if (Array.isArray(options)) {
    if (options.length % 2 !== 0) throw new OptionError(command, 'dkim', '-dkim expects key/value pairs');
    entries = [];
    for (let i = 0; i < options.length; i += 2) entries.push([String(options[i]).replace(/^-/, ''), options[i + 1]]);
  } else if (options !== null && typeof options === 'object') {
    entries = Object.entries(options);
  } else {
    throw new OptionError(command, 'dkim', '-dkim expects an object with domain, selector and privateKey');
  }
  const known = new Set(['domain', 'selector', 'privateKey', 'headers', 'algorithm']);
  const out: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    const key = [...known].find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) throw new OptionError(command, 'dkim', `-dkim: unknown key ${JSON.stringify(name)}`);
    out[key] = value;
  }
  if (out.privateKey === undefined) throw new OptionError(command, 'dkim', '-dkim privateKey is missing');
  return out;
}

function asciiName(name: string, what: string, fail: (message: string) => never): string {
  try {
    return toASCIIDomain(name);
  } catch (error) {
    return fail(`${what}: ${(error as Error).message}`);
  }
}

function privateKeyOf(value: unknown, fail: (message: string) => never): KeyObject {
  if (value instanceof KeyObject) {
    if (value.type !== 'private') fail('privateKey: the KeyObject is not a private key');
    return value;
  }
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) return fail('privateKey: expected PEM text, a Buffer or a KeyObject');
  try {
    return createPrivateKey(value);
  } catch (error) {
    // The key's text never goes into the message.
    return fail(`privateKey: not a readable private key (${(error as { code?: string }).code ?? 'unreadable'})`);
  }
}

/** The default `h=` list: each default field as often as it occurs, then From once more (RFC 6376 §8.15). */
function defaultFieldList(fields: readonly RawField[]): string[] {
  const present = fields.map((field) => relaxedName(field.name)).filter((name) => DEFAULT_SIGNED_FIELDS.includes(name));
  return [...present, 'from'];
}

/**
 * Writes a field in lines of at most {@link FOLD_WIDTH} characters, folding
 * (CRLF TAB) only where RFC 6376 allows white space: between tags, around the
 * colons of `h=`, and inside base64 values.
 */
class Folder {
  private readonly lines: string[] = [];
  private line: string;

  constructor(start: string) {
    this.line = start;
  }

  /** Adds a piece that must not be split, after `separator` when it fits on the line. */
  add(separator: string, piece: string): void {
    if (this.line.length + separator.length + piece.length > FOLD_WIDTH && this.line.trim() !== '') {
      this.lines.push(this.line);
      this.line = '\t' + piece;
    } else {
      this.line += separator + piece;
    }
  }

  /** Adds base64 text, filling each line and folding inside it. */
  addText(text: string): void {
    let rest = text;
    while (rest.length > 0) {
      let room = FOLD_WIDTH - this.line.length;
      if (room < 8) {
        this.lines.push(this.line);
        this.line = '\t';
        room = FOLD_WIDTH - 1;
      }
      this.line += rest.slice(0, room);
      rest = rest.slice(room);
    }
  }

  text(): string {
    return [...this.lines, this.line].join('\r\n');
  }
}
