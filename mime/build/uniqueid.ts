/**
 * Message-ID and Content-ID values (RFC 5322 section 3.6.4, RFC 2045 section 7).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { toASCIIDomain } from '../../lib/idn';

// RFC 5322 dot-atom-text: the form the right-hand side of an id must take (a no-fold-literal aside).
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

let counter = 0;
let idDomain: string | undefined;

// Random bytes drawn a few kilobytes at a time: one randomBytes call per id cost more than the rest of the id.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** The next 8 random bytes, as 16 hex digits. */
function random64(): string {
  if (poolAt + 8 > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolAt = 0;
  }
  poolAt += 8;
  return pool.toString('hex', poolAt - 8, poolAt);
}

/** The host name as an id's right-hand side: in ASCII form, and `localhost` when it cannot be one. */
function domain(): string {
  if (idDomain === undefined) {
    try {
      idDomain = toASCIIDomain(hostname());
    } catch {
      idDomain = 'localhost';
    }
    if (!DOT_ATOM.test(idDomain)) idDomain = 'localhost';
  }
  return idDomain;
}

/**
 * A new globally unique id in angle brackets:
 * `<pid.unixseconds.counter.random@hostname>`. Tcllib's id is the same
 * without the random part, which could repeat after a restart within the same
 * second under the same pid, or on two hosts with the same name; 64 random
 * bits make that practically impossible. One counter serves every id of the
 * process, Message-IDs and Content-IDs alike.
 *
 * Tcl: `mime::uniqueID` → `<4242.1700000000.1@mail.example.org>`
 * TypeScript: `mime.uniqueID()` → `'<4242.1700000000.1.9f86d081884c7d65@mail.example.org>'`
 */
export function uniqueID(): string {
  counter += 1;
  const seconds = Math.floor(Date.now() / 1000);
  return `<${process.pid}.${seconds}.${counter}.${random64()}@${domain()}>`;
}
