/**
 * Turning a stored campaign and a claimed item into a message. Templating
 * lives with the caller (the CLI has its own template format), so a worker
 * takes a `render` hook; the default handles the one trivial case: the
 * template is a raw RFC 5322 message (.eml) with `{{field}}` placeholders.
 */
import { InvalidInputError } from '../../../lib/errors';
import { initialize, type Token } from '../../../mime';
import type { SendMessageOptions } from '../../sendmessage';
import type { CampaignRecord } from './campaign';
import type { ClaimedItem } from './redis-ledger';

/** What a renderer gives: a mime token, or a token with sendmessage options of its own (headers, DSN, ...). */
export type Rendered = Token | { token: Token; options?: SendMessageOptions };

/**
 * Makes the message of one item. The envelope is not the renderer's to choose:
 * MAIL FROM is the campaign's sender and RCPT TO the item's one recipient.
 */
export type RenderHook = (campaign: CampaignRecord, item: ClaimedItem) => Rendered | Promise<Rendered>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * The default renderer: the template's bytes as a raw message, each
 * `{{field}}` replaced by the item's value (`{{recipient}}` and `{{id}}` are
 * the item's own). A value with CR, LF or NUL is refused: it could add header
 * fields or end the message.
 * @throws InvalidInputError for a placeholder without a value, or a value that is not one line.
 */
export function renderRawTemplate(campaign: CampaignRecord, item: ClaimedItem): Token {
  const text = campaign.template.toString('utf8');
  const own: Record<string, string> = { recipient: item.recipient, id: item.id };
  const filled = text.replace(PLACEHOLDER, (_, name: string) => {
    const value = Object.prototype.hasOwnProperty.call(item.values, name) ? item.values[name] : own[name];
    if (value === undefined) throw new InvalidInputError(`item ${item.id} field ${name}`, `the template uses {{${name}}} and the item has no such value`);
    if (/[\r\n\0]/.test(value)) throw new InvalidInputError(`item ${item.id} field ${name}`, 'a value put into a raw template must be one line (no CR, LF or NUL)');
    return value;
  });
  return initialize({ string: Buffer.from(filled, 'utf8') });
}
