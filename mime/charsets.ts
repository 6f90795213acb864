/** Charset names: Tcl encodings to MIME names and back (placeholder signatures). */
export function mapencoding(tclEncoding: string): string {
  throw new Error(`mapencoding is being written ${tclEncoding}`);
}
export function reversemapencoding(mimeCharset: string): string {
  throw new Error(`reversemapencoding is being written ${mimeCharset}`);
}
/** Decodes bytes in a MIME charset to a JavaScript string; throws a MimeError for an unknown charset. */
export function decodeCharset(bytes: Buffer, mimeCharset: string): string {
  throw new Error(`decodeCharset is being written ${bytes.length} ${mimeCharset}`);
}
/** Encodes a JavaScript string to bytes in a MIME charset; throws a MimeError for an unknown charset. */
export function encodeCharset(text: string, mimeCharset: string): Buffer {
  throw new Error(`encodeCharset is being written ${text.length} ${mimeCharset}`);
}
