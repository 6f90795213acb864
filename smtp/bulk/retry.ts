/**
 * The timing and the judgement of bulk sending: how a failure is classed
 * (worth another try, a refusal, a failure, or an unknown outcome), how long
 * to wait before the next try, and a pace that spreads messages evenly over
 * time instead of sending them in bursts.
 */
import { type Attempt, SmtpError } from '../../lib/errors';

/** How a failed send is classed: tried again later, or reported as it stands. */
export type Verdict = 'temporary' | 'refused' | 'failed' | 'uncertain';

/** Stages where a lost connection is a local or configuration failure that another try will not mend. */
const LOCAL_STAGES = new Set(['options', 'envelope', 'tls', 'auth', 'body']);

/** Stages where a 5xx is the receiving side's verdict on this message (sender, recipients, content). */
const MESSAGE_STAGES = new Set(['mail', 'rcpt', 'data', 'dot']);

/** One try at one server that a later try could get past: no reply (drop, timeout, refused connection) or a 4xx. */
export function isTemporaryAttempt(attempt: Pick<Attempt, 'code' | 'stage'>): boolean {
  if (attempt.code === null) return !LOCAL_STAGES.has(attempt.stage);
  return attempt.code >= 400 && attempt.code < 500;
}

/**
 * Classes the error of one send (as `smtp.sendmessage` or a pool throws it):
 * - `uncertain`: the end of data went out and no final reply came back; the message may have been delivered;
 * - `temporary`: a 4xx, or the connection was lost before the end of data (RFC 5321 §4.2.5: try again later);
 * - `refused`: the server refused the sender, every recipient, or the message with a 5xx (or it is larger than the server takes);
 * - `failed`: anything else: bad input, TLS or authentication trouble, no usable server.
 */
export function classify(error: unknown): Verdict {
  if (!(error instanceof SmtpError)) return 'failed';
  switch (error.code) {
    case 'EUNCERTAIN':
      return 'uncertain';
    case 'ECONNECTION':
    case 'ETIMEOUT':
    case 'EPROTOCOL':
      return LOCAL_STAGES.has(error.stage) ? 'failed' : 'temporary';
    case 'ESIZE':
      return 'refused';
    case 'ERECIPIENTS':
      // Nothing was sent: if every refusal is "not now", the whole message may go later.
      return error.rejected.length > 0 && error.rejected.every(([, code]) => code >= 400 && code < 500) ? 'temporary' : 'refused';
    case 'EALLFAILED':
      return error.attempts.some(isTemporaryAttempt) ? 'temporary' : 'failed';
    case 'ESMTP':
    case 'EAUTH':
    case 'ETLS':
      if (error.replyCode !== null && error.replyCode >= 400 && error.replyCode < 500) return 'temporary';
      if (error.code === 'ESMTP' && error.replyCode !== null && error.replyCode >= 500 && MESSAGE_STAGES.has(error.stage)) return 'refused';
      return 'failed';
    default:
      return 'failed';
  }
}

/** The reply code of a failed send, for the ledger (null when no reply came). */
export function codeOf(error: unknown): number | null {
  return error instanceof SmtpError ? error.replyCode : null;
}

/** Exponential back-off with jitter: how long to wait before the next try. */
export interface Backoff {
  /** Seconds before the first retry. */
  initialSecs: number;
  /** The longest wait, in seconds. */
  maxSecs: number;
}

/**
 * Milliseconds to wait before retry number `retry` (1 for the first): the
 * initial delay doubled per retry, capped, then drawn at random from its
 * upper half, so the wait keeps growing but messages deferred together do
 * not all come back in the same instant.
 */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxSecs, backoff.initialSecs * 2 ** Math.max(0, retry - 1)) * 1000;
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * Paces starts at most `perSecond` a second, evenly spaced: each start
 * reserves the next free slot one interval after the previous one. Time
 * spent idle is not saved up, so a pause is never followed by a burst.
 */
export class Pacer {
  private readonly intervalMs: number;
  private nextSlot = 0;

  constructor(perSecond: number | undefined) {
    this.intervalMs = perSecond === undefined ? 0 : 1000 / perSecond;
  }

  /** Resolves when the caller may start; callers are served in the order they asked. */
  async take(): Promise<void> {
    if (this.intervalMs === 0) return;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + this.intervalMs;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  }
}
