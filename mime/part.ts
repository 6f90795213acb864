/**
 * The MIME part model. A part is a plain object: its content type and
 * parameters, its declared transfer encoding, its other header fields in order,
 * and a body source. Tokens (see tokens.ts) are handles onto parts; the builder
 * turns a part into bytes and the parser turns bytes into parts, so that
 * build → parse → build gives the same bytes.
 */

/** One header field other than Content-Type, Content-Transfer-Encoding and MIME-Version. */
export interface HeaderField {
  /** The field name with the case it was given or parsed with (compared case-insensitively). */
  name: string;
  /** The value, unfolded (no CR or LF), as the caller set it or as parsed (still RFC 2047 encoded if it was). */
  value: string;
  /**
   * For a parsed field that was never changed: the exact bytes of the field as
   * read (name, colon, value, folding; without the final line break), so that
   * building a parsed message reproduces it byte for byte.
   */
  raw?: Buffer;
}

/** Where a part's body comes from. */
export type BodySource =
  /** Canonical `string`: a JavaScript string (encoded with the part's charset when built) or bytes. */
  | { kind: 'string'; data: string | Buffer }
  /** Canonical `file` (read lazily, streamed), or a region of a parsed file. */
  | { kind: 'file'; path: string; offset?: number; length?: number; encoded?: boolean }
  /** A multipart (or message/*) with sub-parts. */
  | { kind: 'parts'; parts: Part[] }
  /** The body bytes of a parsed leaf, exactly as they stood in the message (still transfer-encoded). */
  | { kind: 'parsed'; data: Buffer };

export interface Part {
  /** `type/subtype`, lowercased. */
  content: string;
  /** Content-Type parameters in insertion order; names lowercased, values as given (decoded from RFC 2231). */
  params: Map<string, string>;
  /** The declared Content-Transfer-Encoding, lowercased, or '' when none was declared. */
  encoding: string;
  /** The MIME-Version value (default `1.0`). */
  version: string;
  /** Every other header field, in order. */
  headers: HeaderField[];
  body: BodySource;
  /** True for parts that parsing created (finalize `-subordinates dynamic` releases these). */
  parsed: boolean;
  /**
   * Multipart only, kept for round trips. `preamble`: every byte before the
   * first delimiter line (`--boundary` at the start of a line), the line break
   * in front of that delimiter included. `epilogue`: every byte after the
   * `--` that closes the last delimiter (`--boundary--`), its line break
   * included. When undefined the builder writes no preamble and a line break
   * as the epilogue. Between those the builder writes the delimiters as read
   * (`rawLayout.delimiters`) when it has them, and otherwise, for each
   * sub-part, a line break (not before the first), `--boundary`, a line break,
   * and the sub-part; then a line break and `--boundary--`.
   */
  preamble?: Buffer;
  epilogue?: Buffer;
  /** Problems the parser found and worked around (it never throws on what it can represent). */
  defects: string[];
  /**
   * For a parsed part: the raw Content-Type, Content-Transfer-Encoding and
   * MIME-Version fields as read, and where each header stood, so that an
   * unchanged parsed part builds to the same bytes.
   */
  rawLayout?: RawLayout;
  /**
   * For a parsed part whose body the parser had to transfer-decode to read the
   * enclosed parts (a message/* sent as base64 or quoted-printable): the body
   * exactly as read. The builder writes it as it is while no part below was
   * changed, and encodes the enclosed parts again once one was.
   */
  rawBody?: BodySource;
  /**
   * Set by setheader once the part's fields were changed: the builder then
   * writes its header block field by field (unchanged fields keep their raw
   * bytes) instead of `rawLayout.header`, and an enclosing `rawBody` is
   * encoded again.
   */
  modified?: boolean;
}

/** How a parsed part's header block was laid out, for byte-exact rebuilding. */
export interface RawLayout {
  /** The order of every field as read: an index into `headers`, or one of the three MIME fields by name. */
  order: Array<number | 'content-type' | 'content-transfer-encoding' | 'mime-version'>;
  /** The exact bytes of those three fields as read, when present. */
  mimeFields: Partial<Record<'content-type' | 'content-transfer-encoding' | 'mime-version', Buffer>>;
  /** The line break the part used (`\r\n` or `\n`). */
  eol: string;
  /**
   * Parsed parts: the whole header block exactly as read, from its first byte
   * to the empty line that ended it, that line included (absent from the bytes
   * when the input ended first, or when a line that is not a field began the
   * body). Writing it in place of the fields reproduces what the fields alone
   * cannot: line breaks mixed within the block, a leading mbox `From ` line, a
   * repeated MIME field the parser set aside, a missing empty line.
   */
  header?: Buffer;
  /**
   * Parsed multiparts: each delimiter exactly as read, one per sub-part, then
   * the close delimiter when there was one. The first runs from its `--` to
   * the end of its line (the line break before it ends the preamble); each
   * other one starts at the line break before it and ends after its own line
   * break (transport padding included); the close delimiter ends at its final
   * `--` (what follows is the epilogue). So the body is, byte for byte:
   * preamble, then for each sub-part its delimiter and the sub-part, then the
   * close delimiter and the epilogue.
   */
  delimiters?: Buffer[];
  /**
   * Set when the layout no longer describes the part: rawLayout is then
   * ignored and the header is built afresh. setheader does not set it: it
   * keeps `order` in step with `headers` instead, so that only the changed
   * fields lose their raw bytes.
   */
  dirty?: boolean;
}

/** True when the part's body is sub-parts (a multipart, or a message/* holding its message). */
export function hasParts(part: Part): part is Part & { body: { kind: 'parts'; parts: Part[] } } {
  return part.body.kind === 'parts';
}

/** A new, empty part of the given type. */
export function newPart(content: string, body: BodySource): Part {
  return {
    content: content.toLowerCase(),
    params: new Map(),
    encoding: '',
    version: '1.0',
    headers: [],
    body,
    parsed: false,
    defects: [],
  };
}
