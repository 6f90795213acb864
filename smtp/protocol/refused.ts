/**
 * Refused-recipient entries with their enhanced status code (RFC 3463, offered
 * as ENHANCEDSTATUSCODES, RFC 2034). The entry stays Tcllib's triple
 * `[address, code, diagnostic]`: the enhanced code rides along as a
 * non-enumerable property `enhanced`, so the triple compares, spreads,
 * serializes and destructures exactly as before, while a program that wants
 * the finer code reads `entry.enhanced`, or {@link enhancedOf}, which also reads
 * it back from a copy made by `JSON.stringify` or `structuredClone`.
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
  if (Object.prototype.hasOwnProperty.call(entry, 'enhanced')) return (entry as RefusedRecipient).enhanced ?? null;
  // A copy made by JSON or structuredClone keeps only the triple. The server wrote the code at the
  // head of its text (RFC 2034 section 3), and its class matches the reply code's: read it back from there.
  const [, code, diagnostic] = entry;
  const found = ENHANCED_AT_START.exec(diagnostic);
  return found !== null && found[1] === String(code)[0] ? found[0].trimEnd() : null;
}

const ENHANCED_AT_START = /^([245])\.\d{1,3}\.\d{1,3}(?= |$)/;
