/**
 * Refused-recipient entries with their enhanced status code (RFC 3463, offered
 * as ENHANCEDSTATUSCODES, RFC 2034). The entry stays Tcllib's triple
 * `[address, code, diagnostic]`: the enhanced code rides along as a
 * non-enumerable property `enhanced`, so the triple compares, spreads,
 * serializes and destructures exactly as before, while a program that wants
 * the finer code reads `entry.enhanced` (or {@link enhancedOf}).
 */
import type { Rejected } from '../../lib/errors';

/** A refused recipient that may carry its enhanced status code. */
export type RefusedRecipient = Rejected & { readonly enhanced?: string | null };

/** A refused-recipient triple with `enhanced` attached (null when the server gave none). */
export function refusedEntry(address: string, code: number, diagnostic: string, enhanced: string | null): Rejected {
  const entry: Rejected = [address, code, diagnostic];
  Object.defineProperty(entry, 'enhanced', { value: enhanced, enumerable: false, writable: false, configurable: false });
  return entry;
}

/**
 * The enhanced status code of a refused-recipient entry, e.g. `5.1.1`, or null.
 *
 * ```ts
 * for (const entry of await smtp.sendmessage(tok, { atleastone: true })) console.log(entry[0], enhancedOf(entry));
 * ```
 */
export function enhancedOf(entry: Rejected): string | null {
  return (entry as RefusedRecipient).enhanced ?? null;
}
