/**
 * Undoes a transfer encoding on bytes held in memory, for the one place the
 * parser needs it: a message/* part sent as base64 or quoted-printable, whose
 * enclosed message is parsed from the decoded bytes.
 */

/** Base64 (RFC 2045 section 6.8): characters outside the alphabet, line breaks included, are skipped. */
export function decodeBase64(encoded: Buffer): Buffer {
  return Buffer.from(encoded.toString('latin1'), 'base64');
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/**
 * Quoted-printable (RFC 2045 section 6.7): `=XX` in either case is a byte, `=`
 * before a line break (blanks allowed between) is a soft break, and an `=` that
 * is neither stays as it is (rule 6's advice for robust decoders). Line breaks
 * are kept as they are: they are the enclosed message's own.
 */
export function decodeQuotedPrintable(encoded: Buffer): Buffer {
  const out = Buffer.allocUnsafe(encoded.length);
  let length = 0;
  let from = 0;
  let at = encoded.indexOf(0x3d);
  while (at >= 0) {
    length += encoded.copy(out, length, from, at);
    const high = at + 1 < encoded.length ? hexValue(encoded[at + 1]) : -1;
    const low = at + 2 < encoded.length ? hexValue(encoded[at + 2]) : -1;
    if (high >= 0 && low >= 0) {
      out[length++] = high * 16 + low;
      from = at + 3;
    } else {
      let end = at + 1;
      while (end < encoded.length && (encoded[end] === 0x20 || encoded[end] === 0x09)) end++;
      if (end < encoded.length && encoded[end] === 0x0a) {
        from = end + 1;
      } else if (end + 1 < encoded.length && encoded[end] === 0x0d && encoded[end + 1] === 0x0a) {
        from = end + 2;
      } else if (end === encoded.length) {
        from = end; // a soft break at the very end
      } else {
        out[length++] = 0x3d;
        from = at + 1;
      }
    }
    at = encoded.indexOf(0x3d, from);
  }
  length += encoded.copy(out, length, from);
  return out.subarray(0, length);
}
