/**
 * The bytes of a message given to mime.initialize as a JavaScript string. A
 * string may be the message's text (`fs.readFileSync(f, 'utf8')`) or its
 * bytes one character per byte (Tcl's habit, `fs.readFileSync(f, 'latin1')`),
 * and when every character is below U+0100 both readings are possible: taking
 * `Café` read as UTF-8 for bytes puts a lone 0xE9 into a UTF-8 part, which
 * every reader shows as U+FFFD. The rule, which never picks silently between
 * two readings that differ:
 *
 * - a character above U+00FF: the string is text, written as UTF-8;
 * - every character below U+0080, or Latin-1 bytes that are valid UTF-8: the
 *   string is bytes (a UTF-8 message read one byte per character);
 * - otherwise the string is read as bytes and parsed, and the parts decide:
 *   when every UTF-8 part (a text part with no charset, or a header: RFC 6532)
 *   holds valid UTF-8, the bytes reading is the consistent one; when one does
 *   not, the string is text, unless a part of another charset (ISO-8859-1,
 *   ...) or a part that is not text (application/octet-stream, an image)
 *   holds 8-bit characters too: then neither reading fits the whole message,
 *   and it is refused, so that a Buffer (`fs.readFileSync(f)`) says what the
 *   bytes are.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { MimeError } from '../../lib/errors';
import { hasParts, type Part } from '../part';

const UTF8 = /^(?:utf-?8|us-ascii|ascii)$/i;

interface Found {
  /** A UTF-8 part (or header) whose 8-bit octets are not valid UTF-8. */
  badUtf8: boolean;
  /** A part of another charset with 8-bit octets. */
  other: boolean;
}

/** What the 8-bit octets of a part parsed from one-byte-per-character input say about that reading. */
function survey(part: Part, found: Found): void {
  if (part.headers.some((field) => field.raw !== undefined && !isUtf8(field.raw))) found.badUtf8 = true;
  // An enclosed message sent as base64 or quoted-printable: its 8-bit octets came from escapes, not from the string.
  if (part.rawBody !== undefined) return;
  if (hasParts(part)) {
    for (const child of part.body.parts) survey(child, found);
    return;
  }
  if (part.body.kind !== 'parsed' || isAscii(part.body.data)) return;
  const charset = part.params.get('charset');
  // Bytes that are no text (an image, application/octet-stream) are bytes whatever they look like.
  const utf8 = charset === undefined ? part.content.startsWith('text/') : UTF8.test(charset);
  if (!utf8) found.other = true;
  else if (!isUtf8(part.body.data)) found.badUtf8 = true;
}

/** The bytes a string stands for when its characters alone tell, or null when only the parsed message can (see above). */
function plainReading(message: string): Buffer | null {
  if (/[^\x00-\xff]/.test(message)) return Buffer.from(message, 'utf8');
  const bytes = Buffer.from(message, 'latin1');
  return isAscii(bytes) || isUtf8(bytes) ? bytes : null;
}

/** Parses a message given as a string by the rule above; `parse` turns bytes into the part tree. */
export function parseString(message: string, parse: (bytes: Buffer) => Part): Part {
  const plain = plainReading(message);
  if (plain !== null) return parse(plain);
  const asBytes = parse(Buffer.from(message, 'latin1'));
  const found: Found = { badUtf8: false, other: false };
  survey(asBytes, found);
  if (!found.badUtf8) return asBytes;
  if (!found.other) return parse(Buffer.from(message, 'utf8'));
  throw new MimeError(
    'the message string is neither text nor one byte per character throughout (a UTF-8 part holds characters U+0080 to U+00FF that are not UTF-8 bytes, and a part of another charset holds 8-bit characters too): give its bytes as a Buffer (fs.readFileSync(path) without an encoding)',
    'EENCODING',
  );
}
