/**
 * Reads the values of the MIME fields of a parsed part: Content-Type with its
 * parameters (RFC 2045 section 5, RFC 2231) and Content-Transfer-Encoding
 * (RFC 2045 section 6). What cannot be read becomes a defect and a default,
 * never an exception.
 */
import { libmime } from '../codec/libraries';
import { ENCODINGS } from '../codec/encoding';
import { isMimeToken } from '../build/headers';

export interface ContentType {
  content: string;
  params: Map<string, string>;
  defect?: string;
}

/**
 * The content type a part has when it declares none, or declares one that
 * cannot be read: text/plain; charset=us-ascii (RFC 2045 section 5.2), or
 * message/rfc822 inside a multipart/digest (RFC 2046 section 5.1.5).
 */
export function defaultContentType(parentContent: string | null): ContentType {
  if (parentContent === 'multipart/digest') return { content: 'message/rfc822', params: new Map() };
  return { content: 'text/plain', params: new Map([['charset', 'us-ascii']]) };
}

/** Reads a Content-Type value (unfolded). Parameter names are lowercased; values are unquoted and RFC 2231-decoded. */
export function readContentType(value: string, parentContent: string | null): ContentType {
  let parsed: { value: string; params: Record<string, string> };
  try {
    parsed = libmime().parseHeaderValue(value, { stripComments: true });
  } catch (error) {
    return { ...defaultContentType(parentContent), defect: `unreadable Content-Type ${JSON.stringify(value)}: ${(error as Error).message}` };
  }
  let content = parsed.value.trim().toLowerCase();
  let defect: string | undefined;
  // Tcllib takes a bare "message" for message/rfc822; so do we, noting that it is not MIME.
  if (content === 'message') {
    content = 'message/rfc822';
    defect = 'Content-Type "message" has no subtype: taken as message/rfc822';
  }
  const slash = content.indexOf('/');
  if (slash < 0 || !isMimeToken(content.slice(0, slash)) || !isMimeToken(content.slice(slash + 1))) {
    const fallback = defaultContentType(parentContent);
    return { ...fallback, defect: `malformed Content-Type ${JSON.stringify(value)}: taken as ${fallback.content}` };
  }
  return { content, params: new Map(Object.entries(parsed.params)), defect };
}

const KNOWN_ENCODINGS: ReadonlySet<string> = new Set(ENCODINGS);

/** Reads a Content-Transfer-Encoding value: lowercased, comments dropped. */
export function readTransferEncoding(value: string): { encoding: string; defect?: string } {
  let encoding: string;
  try {
    encoding = libmime().parseHeaderValue(value, { stripComments: true }).value.trim().toLowerCase();
  } catch {
    encoding = value.trim().toLowerCase();
  }
  if (KNOWN_ENCODINGS.has(encoding)) return { encoding };
  return { encoding, defect: `unknown Content-Transfer-Encoding ${JSON.stringify(value)}: the body is kept as it is` };
}
