/**
 * Undoes a transfer encoding on bytes held in memory, for the one place the
 * parser needs it: a message/* part sent as base64 or quoted-printable, whose
 * enclosed message is parsed from the decoded bytes. Quoted-printable has one
 * decoder, mime/codec/qp.ts's qpDecodeBytes (trailing blanks dropped as RFC 2045
 * rule 3 asks), used here too.
 */
/** Base64 (RFC 2045 section 6.8): characters outside the alphabet, line breaks included, are skipped. */
export function decodeBase64(encoded: Buffer): Buffer {
  return Buffer.from(encoded.toString('latin1'), 'base64');
}
