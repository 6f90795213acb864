/**
 * SASL mechanisms for SMTP AUTH (RFC 4954): what the client sends first and how
 * it answers each 334 challenge. The session drives the exchange; this file
 * only computes the lines, so each mechanism can be checked against its RFC.
 */
import { createHmac } from 'node:crypto';
import { InvalidInputError } from '../../lib/errors';
import { isLoopbackAddress } from './connection';

/** The mechanisms tclmail speaks, strongest first (Tcllib's order, XOAUTH2 ahead when a token is given). */
export const MECHANISMS = ['XOAUTH2', 'CRAM-MD5', 'LOGIN', 'PLAIN'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

export interface Credentials {
  user: string;
  password: string;
  /** OAuth 2.0 access token, for XOAUTH2. */
  oauth2?: string;
}

/** One mechanism's side of the exchange. */
export interface Exchange {
  readonly mechanism: Mechanism;
  /** The initial response sent with `AUTH`, or undefined to wait for a first challenge. */
  readonly initial: string | undefined;
  /** The answer to the n-th 334 challenge (0-based; `challenge` is the decoded text), or null when none is due. */
  respond(challenge: Buffer, step: number): string | null;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** RFC 4616: `authzid NUL authcid NUL passwd`, with an empty authzid. */
export function plainResponse(user: string, password: string): string {
  if (user.includes('\0') || password.includes('\0')) throw new InvalidInputError('AUTH PLAIN', 'NUL is not allowed in a user name or password');
  return b64(`\0${user}\0${password}`);
}

/** RFC 2195: the user, a space, and the hex HMAC-MD5 of the challenge keyed with the password. */
export function cramMd5Response(user: string, password: string, challenge: Buffer): string {
  const digest = createHmac('md5', Buffer.from(password, 'utf8')).update(challenge).digest('hex');
  return b64(`${user} ${digest}`);
}

/** Google's and Microsoft's XOAUTH2: `user=… ^A auth=Bearer … ^A ^A`. */
export function xoauth2Response(user: string, token: string): string {
  if (/[\x01\r\n]/.test(user) || /[\x01\r\n]/.test(token)) throw new InvalidInputError('AUTH XOAUTH2', 'control characters are not allowed in the user or token');
  return b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
}

/** Starts the client side of `mechanism`. */
export function startExchange(mechanism: Mechanism, credentials: Credentials): Exchange {
  const { user, password } = credentials;
  switch (mechanism) {
    case 'PLAIN':
      return { mechanism, initial: plainResponse(user, password), respond: () => null };
    case 'LOGIN':
      // The challenges are "Username:" and "Password:" by convention; the order is what counts.
      return { mechanism, initial: undefined, respond: (_c, step) => (step === 0 ? b64(user) : step === 1 ? b64(password) : null) };
    case 'CRAM-MD5':
      return { mechanism, initial: undefined, respond: (challenge, step) => (step === 0 ? cramMd5Response(user, password, challenge) : null) };
    case 'XOAUTH2': {
      if (credentials.oauth2 === undefined) throw new InvalidInputError('oauth2', 'XOAUTH2 needs an OAuth 2.0 token');
      // A failure comes as a 334 with a JSON error; the client answers with an empty line to get the final 535.
      return { mechanism, initial: xoauth2Response(user, credentials.oauth2), respond: () => '' };
    }
  }
}

/**
 * The mechanisms to try, in order: those both sides know, strongest first;
 * XOAUTH2 only with a token, and only XOAUTH2 when a token is all there is.
 */
export function chooseMechanisms(offered: readonly string[], credentials: Credentials, only?: string): Mechanism[] {
  const offer = new Set(offered.map((m) => m.toUpperCase()));
  if (only !== undefined) {
    const wanted = only.toUpperCase();
    if (!(MECHANISMS as readonly string[]).includes(wanted)) {
      throw new InvalidInputError('mechanism', `unsupported SASL mechanism ${JSON.stringify(only)}; use one of ${MECHANISMS.join(', ')}`);
    }
    return offer.has(wanted) ? [wanted as Mechanism] : [];
  }
  return MECHANISMS.filter((m) => offer.has(m) && (m !== 'XOAUTH2' || credentials.oauth2 !== undefined));
}

/**
 * May credentials go over this connection? Over TLS, when the caller opted in
 * with `insecureauth`, or to loopback: the address actually connected to must
 * be loopback and, when `server` is given, so must the name asked for, so a
 * name that a resolver points at 127.0.0.1 is still treated as the remote host
 * it claims to be (docs/security.md, A4; Go's PlainAuth reads the name).
 */
export function credentialsMayTravel(secure: boolean, remoteAddress: string | undefined, insecureauth: boolean, server?: string): boolean {
  if (secure || insecureauth) return true;
  if (!isLoopbackAddress(remoteAddress)) return false;
  return server === undefined || isLoopbackName(server);
}

/** `localhost` or a loopback address literal (127.0.0.0/8, ::1, bracketed or not). */
export function isLoopbackName(name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || isLoopbackAddress(host);
}
