/** Quoted-printable codec (placeholder signatures). */
export function qp_encode(text: string, encodedWord = false, noSoftbreak = false): string {
  throw new Error(`qp_encode is being written ${text.length} ${encodedWord} ${noSoftbreak}`);
}
export function qp_decode(text: string, encodedWord = false): string {
  throw new Error(`qp_decode is being written ${text.length} ${encodedWord}`);
}
