/**
 * mime::parseaddress: lib/address.ts parses the list; the display names are
 * decoded here, because encoded words (RFC 2047) are a MIME matter and lib/
 * knows nothing of MIME.
 */
import { parseAddressList, type AddressInfo } from '../lib/address';
import { field_decode } from './codec/words';

export type { AddressInfo };

/**
 * Parses an address list (a To, From or Cc value) into one record per address,
 * with Tcllib's keys; `friendly` has its encoded words decoded. Never throws:
 * what is wrong with an address is in its `error` key, and the next address is
 * parsed on its own. Linear in the length of the text.
 *
 * Tcl: `mime::parseaddress "John Doe <john@example.com>"`
 * TypeScript: `mime.parseaddress('John Doe <john@example.com>')` →
 * `[{ address: 'john@example.com', phrase: 'John Doe', friendly: 'John Doe', ... }]`
 */
export function parseaddress(text: string): AddressInfo[] {
  return parseAddressList(text, field_decode);
}
