/**
 * Bounds on what one parse may build (docs/security.md, A9, A11). MIME has no
 * compression, so its "bombs" are structural: deep nesting, hosts of tiny
 * parts, endless header blocks. Past a bound the parser stops splitting and
 * keeps the rest as body bytes, with a defect, so nothing is lost and nothing
 * grows without limit.
 */
export interface ParseLimits {
  /** Multipart and message/* levels below the top; a deeper container is kept as a leaf. */
  maxDepth: number;
  /** Parts in one message, the top one included; a multipart that would pass it is kept as a leaf. */
  maxParts: number;
  /** Bytes of one header block; the rest of a longer block is taken as the body. */
  maxHeaderBlock: number;
  /** Header fields in one message; the fields past it are taken as the body. */
  maxFields: number;
  /** Bytes of a file that parseFile may copy into memory (header blocks, preambles, epilogues, decoded message/* bodies). */
  maxHeldBytes: number;
  /** Length of a multipart boundary (RFC 2046 allows 70); a longer one leaves the multipart a leaf. */
  maxBoundary: number;
}

export const PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxDepth: 50,
  maxParts: 10_000,
  maxHeaderBlock: 1024 * 1024,
  maxFields: 100_000,
  maxHeldBytes: 64 * 1024 * 1024,
  maxBoundary: 998,
});
