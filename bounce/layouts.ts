/**
 * The wording of MTAs that write no message/delivery-status part (qmail,
 * Exim, Exchange, old Sendmail, Postfix's plain notices, Gmail, Yahoo and
 * many providers): where their text stops and the returned message starts,
 * and the lines that announce a failed recipient. Plain lower-case prefixes
 * and substrings, matched without regular expressions.
 */

/** Line starts (after dashes, spaces and '=') that begin the returned message. */
export const ORIGINAL_MARKERS: readonly string[] = [
  'this is a copy of the message',
  'below this line is a copy of the message',
  'original message',
  'the original message',
  'original message follows',
  'original message header',
  'original message headers',
  'returned message',
  'unsent message',
  'undelivered message',
  'message header follows',
  'headers of your message',
  'header of original message',
  'the header of the original message',
  'returned mail follows',
  'here are the first',
  'text of the message',
  'a copy of the original message',
  'copy of your message',
  'your message reads',
  'below is a copy',
  'original mail',
  'start of returned message',
  'message text follows',
  'the text you sent follows',
  'this is the original message',
  'the header of the message',
  'content-type: message/rfc822',
  'message headers follow',
  'headers follow',
  'original message headers',
];

/** Header fields that start a returned message written inline, after an empty line. */
export const ORIGINAL_FIELDS: readonly string[] = ['return-path:', 'received:', 'dkim-signature:', 'x-received:', 'delivered-to:', 'authentication-results:', 'message-id:', 'arc-seal:'];

/** Lines that carry no recipient even when they show an address. */
export const NOT_RECIPIENT_LINES: readonly string[] = [
  'from:',
  'reply-to:',
  'return-path:',
  'sender:',
  'reporting-mta:',
  'received-from-mta:',
  'received:',
  'message-id:',
  'x-',
  'envelope-from',
  'mail from',
  '>>> mail from',
  'for further assistance',
  'please contact',
  'contact your',
  'if you have',
  'http',
  'www.',
  'subject:',
  'date:',
  'sent:',
  'cc:',
  'the mail system',
  'this is the',
  'hi.',
  'by ',
];

/** Words in the text before the recipients that make the failure temporary. */
export const DELAY_WORDS: readonly string[] = [
  'has not yet been delivered',
  'has not been delivered yet',
  'not yet been delivered',
  'delivery attempts will continue',
  'will continue to try',
  'will keep trying',
  'will retry',
  'still trying',
  'delayed',
  'delay',
  'warning: message',
  'temporary failure',
  'this is a temporary error',
  'is deferred',
  'deferred',
];

/** Words that make the failure permanent. */
export const PERMANENT_WORDS: readonly string[] = ['permanent', 'failed permanently', 'fatal error', 'given up', 'giving up', 'could not be delivered', 'undeliverable', 'did not reach', 'rejected', 'unable to deliver'];

/** Subject words of delivery reports (lower case). */
export const BOUNCE_SUBJECTS: readonly string[] = [
  'undeliver',
  'undelivered',
  'delivery status notification',
  'delivery failure',
  'delivery failed',
  'delivery has failed',
  'delivery problem',
  'delivery notification',
  'delivery report',
  'failure notice',
  'failure delivery',
  'failed delivery',
  'mail delivery',
  'returned mail',
  'returned to sender',
  'return to sender',
  'could not be delivered',
  'couldn\'t be delivered',
  'not delivered',
  'non-delivery',
  'nondeliverable',
  'non delivery',
  'non remis',
  'delayed mail',
  'mail system error',
  'message not delivered',
  'warning: could not send',
  'rejected',
  'bounce',
  'error sending',
  'permanent error',
  'message delivery',
  'unable to deliver',
  'mail could not',
  'delivery error',
  'failure',
  'nicht zustellbar',
  'unzustellbar',
  'fehlgeschlagen',
  'no se pudo',
];

/** Subject starts and headers of auto-replies (lower case). */
export const AUTOREPLY_SUBJECTS: readonly string[] = ['auto:', 'autoreply', 'auto reply', 'auto-reply', 'automatic reply', 'automatische antwort', 'out of office', 'out of the office', 'away from', 'away until', 'on vacation', 'vacation', 'absence', 'abwesend', 'réponse automatique', 'respuesta automática'];
