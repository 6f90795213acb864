/**
 * Tokens: the opaque handles that the Tcl-shaped API passes around. A token
 * names one part; the part itself lives in the model (part.ts). Tokens are
 * issued by initialize, lazily for the sub-parts of a parsed message, and
 * released by finalize; a released token is refused everywhere.
 */
import { inspect } from 'node:util';
import { MimeError, OptionError } from '../lib/errors';
import { hasParts, type Part } from './part';
import { DISPOSE } from '../lib/dispose';

// A token's name is kept outside the object, not in a `#field`: a `#field` in the published
// .d.ts breaks a user's `tsc` at TypeScript's default target (TS18028), and a plain field
// would show in JSON.stringify and Object.keys.
const names = new WeakMap<Token, string>();

/** A handle onto one MIME part, printed as Tcllib prints its tokens (`::mime::7`). */
export class Token {
  // Type only (nothing at run time): a private member keeps Token nominal, so no other object with a toString passes for one.
  declare private readonly token: never;

  /** @internal Tokens come from `mime.initialize`; this constructor is not public API. */
  constructor(name: string) {
    names.set(this, name);
  }

  toString(): string {
    return names.get(this) ?? '';
  }

  [inspect.custom](): string {
    return `Token(${this.toString()})`;
  }

  /**
   * `using tok = mime.initialize(...)` finalizes the token (and the parts
   * parsing created below it) when the block ends; a token already finalized
   * is left alone.
   */
  [DISPOSE](): void {
    if (live.has(this)) release(this, 'dynamic', 'mime.finalize');
  }
}

// Held weakly: a token the caller drops, never finalized, takes its part (and the body it holds) with it. The part
// is reachable from its token only, and tokenOfPart's entry only while the part is, so the pair goes together.
const live = new WeakMap<Token, Part>();
// Each part has at most one token at a time, so that asking twice for the parts of a multipart gives the same tokens.
const tokenOfPart = new WeakMap<Part, Token>();
let counter = 0;

/** Issues a new token for a part. */
export function issueToken(part: Part, name = `::mime::${++counter}`): Token {
  const token = new Token(name);
  live.set(token, part);
  tokenOfPart.set(part, token);
  return token;
}

/** True for any token object, live or finalized. */
export function isToken(value: unknown): value is Token {
  return value instanceof Token;
}

/**
 * The part behind a live token. Throws a MimeError (code ETOKEN) naming the
 * token when it was finalized, and when `value` is not a token at all.
 */
export function partOf(value: unknown, command: string): Part {
  if (!(value instanceof Token)) {
    throw new MimeError(`${command}: ${describe(value)} is not a MIME token`, 'ETOKEN');
  }
  const part = live.get(value);
  if (part === undefined) throw new MimeError(`${command}: ${value} has been finalized`, 'ETOKEN');
  return part;
}

/** The live token of a sub-part, issuing one (`<parent>-<n>`) the first time it is asked for. */
export function tokenForChild(child: Part, parent: Token, index: number): Token {
  const existing = tokenOfPart.get(child);
  if (existing !== undefined && live.has(existing)) return existing;
  return issueToken(child, `${parent}-${index + 1}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** How far finalize reaches below the token (Tcllib's -subordinates). */
export type Subordinates = 'all' | 'dynamic' | 'none';

function releasePart(part: Part): void {
  const token = tokenOfPart.get(part);
  if (token !== undefined) live.delete(token);
  tokenOfPart.delete(part);
}

function releaseBelow(part: Part, subordinates: Subordinates): void {
  if (!hasParts(part) || subordinates === 'none') return;
  // dynamic: only what parsing created goes; parts the caller passed with -parts stay usable.
  if (subordinates === 'dynamic' && !part.parsed) return;
  for (const child of part.body.parts) {
    releaseBelow(child, subordinates);
    releasePart(child);
  }
}

/** Releases a token and, as `subordinates` says, the tokens below it. */
export function release(token: unknown, subordinates: Subordinates, command: string): void {
  const part = partOf(token, command);
  releaseBelow(part, subordinates);
  live.delete(token as Token);
  if (tokenOfPart.get(part) === token) tokenOfPart.delete(part);
}

/** Validates a -parts list: an array of live tokens, every index filled (a sparse array's holes are named). */
export function partsOf(value: unknown, command: string): Part[] {
  if (!Array.isArray(value)) {
    throw new OptionError(command, 'parts', `-parts expects an array of tokens, not ${describe(value)}`);
  }
  const parts: Part[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (!(i in value)) {
      throw new OptionError(command, 'parts', `-parts[${i}] is an empty slot (a sparse array, e.g. new Array(n)), not a MIME token from mime.initialize`);
    }
    if (!(item instanceof Token)) throw new MimeError(`${command}: -parts[${i}] is ${describe(item)}, not a MIME token from mime.initialize`, 'ETOKEN');
    const part = live.get(item);
    if (part === undefined) throw new MimeError(`${command}: -parts[${i}] ${item} has been finalized`, 'ETOKEN');
    parts.push(part);
  }
  return parts;
}
