/**
 * The shape of a parsed bounce, feedback report or auto-reply.
 */

/** What kind of report a message is. */
export type ReportKind = 'dsn' | 'feedback' | 'autoreply';

/** RFC 3464 section 2.3.3: what the reporting MTA did with the recipient. */
export type Action = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/** One recipient the report speaks about, in the order the report gives them. */
export interface BounceRecipient {
  /** The recipient's address (Final-Recipient, else Original-Recipient, else what the text names); '' when the report names none. */
  address: string;
  /** RFC 3464 Action; auto-replies and feedback reports say `delivered` (the message arrived). */
  action: Action;
  /** The RFC 3463 enhanced status code (`5.1.1`); '' when the report carries none (feedback, auto-reply). */
  status: string;
  /** The SMTP reply code the remote server gave (`550`), or null when the report quotes none. */
  replyCode: number | null;
  /** The remote server's words (Diagnostic-Code, or the text the MTA quotes), '' when there are none. */
  diagnostic: string;
  /** Why, in the vocabulary of docs/bounces.md (`userunknown`, `mailboxfull`, ...). */
  reason: string;
  /** True when retrying the address is pointless (unknown user or domain, moved, null MX). */
  hard: boolean;
  /** The Remote-MTA (or the host the text names), '' when unknown. */
  remoteMta: string;
  /** RFC 5965 Feedback-Type (`abuse`, `opt-out`, ...) for feedback reports, '' otherwise. */
  feedbackType: string;
}

/** What the report tells about the message it answers. */
export interface OriginalMessage {
  /** Message-ID of the original message (from the returned message or headers), '' when absent. */
  messageId: string;
  /** RFC 3461 ENVID (Original-Envelope-Id), '' when absent. */
  envid: string;
  /** The item id read back from a VERP address when a template was given to parse, else ''. */
  item: string;
}

/** A delivery status notification, feedback report or auto-reply. */
export interface BounceReport {
  kind: ReportKind;
  /** Reporting-MTA (or the host that wrote the report), '' when unknown. */
  reportingMta: string;
  original: OriginalMessage;
  recipients: BounceRecipient[];
}

/** Options of parse. */
export interface ParseOptions {
  /** A VERP envelope sender template such as `bounces+{id}@example.org`; fills `original.item`. */
  verp?: string;
}
