/**
 * What `tclmail bulk` does for bounces and unsubscribes: `--verp` gives each
 * item its own envelope sender (and its id as the DSN ENVID, sent when the
 * relay offers DSN), `--suppress` skips listed addresses (recorded
 * `suppressed`, never sent, never counted as failed), `--unsubscribe` with
 * `--unsubscribe-secret-file` adds RFC 2369/8058 one-click unsubscribe
 * fields with an HMAC token per item. Every check runs before anything is sent.
 */
import { readFileSync } from 'node:fs';
import { verpAddress } from '../bounce';
import * as mime from '../mime';
import type { SendMessageOptions } from '../smtp';
import { loadSuppression } from '../smtp/bulk/suppression';
import { unsubscribeHeaders } from '../smtp/bulk/unsubscribe';
import { line, stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import type { ListChecker } from './bulk-list';
import { requireReadableFile } from './compose';

/** The flags, spread into bulk's table. */
export const BOUNCE_FLAGS = {
  verp: { type: 'string' },
  suppress: { type: 'string' },
  unsubscribe: { type: 'string' },
  'unsubscribe-secret-file': { type: 'string' },
} as const;

export const BOUNCE_HELP = `Bounces and unsubscribes (docs/bounces.md):
  --verp TEMPLATE        each item's envelope sender from its id, e.g.
                         bounces+{id}@example.org (local part at most 64
                         octets, checked for every row first); the id also
                         goes as the DSN ENVID when the relay offers DSN
  --suppress FILE        skip the addresses in this suppression list
                         (address,reason,date); they are reported
                         "suppressed": never sent, not counted as failed
  --unsubscribe URL      add List-Unsubscribe: <URL?t=TOKEN> and
                         List-Unsubscribe-Post (one click, RFC 8058); the
                         token is an HMAC of the item id and address under
  --unsubscribe-secret-file FILE  this secret (at least 16 bytes); DKIM
                         signs both fields
`;

/** The checked options. */
export interface BulkBounce {
  verp?: string;
  suppressed: Set<string>;
  unsubscribe?: { url: string; secret: Buffer };
}

/** Reads and checks the flags. */
export function bulkBounce(flags: Flags): BulkBounce {
  const verp = stringFlag(flags, 'verp');
  const suppress = stringFlag(flags, 'suppress');
  const url = stringFlag(flags, 'unsubscribe');
  const secretFile = stringFlag(flags, 'unsubscribe-secret-file');
  const result: BulkBounce = { suppressed: new Set() };
  if (verp !== undefined) {
    try {
      verpAddress(verp, 'x');
    } catch (error) {
      throw new UsageError(`--verp: ${(error as Error).message}`);
    }
    result.verp = verp;
  }
  if (suppress !== undefined) {
    if (suppress === '') throw new UsageError('--suppress expects a file');
    result.suppressed = loadSuppression(suppress);
  }
  if ((url === undefined) !== (secretFile === undefined)) throw new UsageError('--unsubscribe URL and --unsubscribe-secret-file FILE go together');
  if (url !== undefined && secretFile !== undefined) {
    requireReadableFile('--unsubscribe-secret-file', secretFile);
    const secret = Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'utf8');
    try {
      unsubscribeHeaders({ url, secret, id: 'x', address: 'check@example.org' });
    } catch (error) {
      throw new UsageError(`--unsubscribe: ${(error as Error).message.replace(/^unsubscribeHeaders: /, '')}`);
    }
    result.unsubscribe = { url, secret };
  }
  return result;
}

/** How many VERP failures a refusal names. */
const SHOWN = 20;

/**
 * Checks that every valid row's id makes a VERP address, row by row, so that
 * a pass that reads the list for another reason can do it on the way.
 */
export class VerpIdCheck {
  private bad: Array<{ id: string; why: string }> = [];
  private count = 0;
  constructor(private readonly extras: BulkBounce) {}

  check(id: string): void {
    if (this.extras.verp === undefined) return;
    try {
      verpAddress(this.extras.verp, id);
    } catch (error) {
      if (this.bad.length < SHOWN) this.bad.push({ id, why: (error as Error).message });
      this.count++;
    }
  }

  /** Prints the first failures and returns false when any row failed (nothing is sent then). */
  report(io: Io, list: string): boolean {
    if (this.count === 0) return true;
    line(io.stderr, `tclmail bulk: ${list}: --verp cannot make an envelope sender for every row; nothing was sent:`);
    for (const { id, why } of this.bad) line(io.stderr, `  id ${JSON.stringify(id)}: ${why}`);
    if (this.count > SHOWN) line(io.stderr, `  and ${this.count - SHOWN} more`);
    line(io.stderr, 'Give the rows ids of letters, digits, "_" and "-" (an "id" column), or use a shorter --verp prefix.');
    return false;
  }
}

/** Checks every valid row of the list with a {@link VerpIdCheck} (a read of its own); false when any fails. */
export function checkVerpIds(checker: ListChecker, extras: BulkBounce, io: Io, list: string): boolean {
  if (extras.verp === undefined) return true;
  const verp = new VerpIdCheck(extras);
  for (const verdict of checker.rows()) if (verdict.kind === 'valid') verp.check(verdict.id);
  return verp.report(io, list);
}

/** True when the row's address is on the suppression list. */
export function isSuppressed(extras: BulkBounce, address: string): boolean {
  return extras.suppressed.size > 0 && extras.suppressed.has(address.trim().toLowerCase());
}

/** The item's own send options: its VERP envelope sender and ENVID. */
export function itemOptions(extras: BulkBounce, id: string): Partial<SendMessageOptions> {
  if (extras.verp === undefined) return {};
  return { originator: verpAddress(extras.verp, id), envid: id };
}

/** Adds the unsubscribe fields to a rendered message. */
export function addUnsubscribe(extras: BulkBounce, token: mime.Token, id: string, address: string): void {
  if (extras.unsubscribe === undefined) return;
  const fields = unsubscribeHeaders({ url: extras.unsubscribe.url, secret: extras.unsubscribe.secret, id, address });
  mime.setheader(token, 'List-Unsubscribe', fields['List-Unsubscribe']);
  mime.setheader(token, 'List-Unsubscribe-Post', fields['List-Unsubscribe-Post']);
}
