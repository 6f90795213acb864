/** RFC 2047 encoded words (placeholder signatures). */
export function word_encode(charset: string, method: string, text: string, ...options: unknown[]): string {
  throw new Error(`word_encode is being written ${charset} ${method} ${text} ${options.length}`);
}
export function word_decode(encoded: string): [charset: string, method: string, text: string] {
  throw new Error(`word_decode is being written ${encoded}`);
}
export function field_decode(field: string): string {
  throw new Error(`field_decode is being written ${field}`);
}
