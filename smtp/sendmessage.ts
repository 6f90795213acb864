/**
 * `smtp.sendmessage`: Tcllib smtp 1.5.1's one-call send, built on the session.
 * It reads the options into a plan (send-plan.ts), then walks the servers in
 * order: each one is readied (open-session.ts), the message is sent
 * (transact.ts), and after a failure the failover rules (failover.ts) decide
 * whether the next server may try.
 */
import { type Attempt, type Rejected, SmtpError } from '../lib/errors';
import type { TclWords } from '../lib/options';
import type { Token } from '../mime';
import { allFailed, attemptOf, finalError, movesOn } from './failover';
import { openSession } from './open-session';
import { afterAbort, throwIfAborted, whenAborted } from './protocol/abort';
import { prepareAhead, type PreparedAhead } from './protocol/message-source';
import { quitStarted } from './protocol/session';
import { type CallOptions, type Plan, planSend, type SendMessageOptions, type Target } from './send-plan';
import { changesOf, transact } from './transact';

export { SENDMESSAGE_OPTIONS, planSend, Plan } from './send-plan';
export type { CallOptions, SendMessageOptions, TlsFailure, TlsPolicy, TlsVerdict } from './send-plan';

/** How one server's try ended, when it did not end the whole send. */
type Outcome = { sent: true; rejected: Rejected[] } | { sent: false };

/** One server: a session readied by {@link openSession}, then the transactions, then QUIT. */
async function tryServer(tok: Token, plan: Plan, target: Target, attempts: Attempt[], ahead: PreparedAhead): Promise<Outcome> {
  const session = await openSession(plan, target, attempts);
  if (!session) return { sent: false };
  let rejected: Rejected[];
  // An abort closes the session: a transaction under way ends without its end of data.
  const stopAbort = whenAborted(plan.message.signal, () => session.close());
  try {
    // When no further transaction can follow (no Bcc copy; no 452 follow-ups without atleastone), QUIT goes out
    // with the end of data (RFC 2920: QUIT may end a group), and its reply is read after the final reply.
    const last = plan.message.envelope.blind.length === 0 && !plan.message.atleastone;
    const afterEndOfData = last ? (): void => void session.quit() : undefined;
    rejected = await transact(session, tok, plan, { ahead, disposable: true, afterEndOfData });
  } catch (error) {
    await session.quit();
    if (!(error instanceof SmtpError) || plan.message.signal?.aborted) throw error;
    attempts.push(attemptOf(target, error));
    error.server ??= target.server;
    error.port ??= target.port;
    if (!movesOn(error)) throw finalError(error, attempts);
    return { sent: false };
  } finally {
    stopAbort();
  }
  // The outcome was settled by the final reply to the end of data: QUIT's reply and the close are not awaited
  // (a round trip per message), only QUIT's write, so that a caller who exits at once has still said QUIT.
  await quitStarted(session);
  return { sent: true, rejected };
}

/**
 * Sends a MIME part as Tcllib's `smtp::sendmessage` does, with its bugs fixed
 * (docs/smtp.md). Resolves to the recipients the server refused when the
 * message was nevertheless accepted; rejects with an {@link SmtpError}
 * (carrying `rejected` and `attempts`) whenever it was not, and with an
 * `UncertainDeliveryError` (code `EUNCERTAIN`) when the end of data went out but no final
 * reply came back. The part itself is never changed.
 *
 * ```tcl
 * smtp::sendmessage $tok -servers {mx1 mx2} -header {From me@x.org} -header {To a@y.org}
 * ```
 * ```ts
 * await smtp.sendmessage(tok, { servers: ['mx1', 'mx2'], header: [['From', 'me@x.org'], ['To', 'a@y.org']] });
 * await smtp.sendmessage(tok, '-servers', ['mx1', 'mx2'], '-header', ['From', 'me@x.org'], '-header', ['To', 'a@y.org']);
 * ```
 */
export function sendmessage(tok: Token, options?: SendMessageOptions & CallOptions): Promise<Rejected[]>;
export function sendmessage(tok: Token, ...flat: TclWords): Promise<Rejected[]>;
export async function sendmessage(tok: Token, ...args: unknown[]): Promise<Rejected[]> {
  const plan = planSend(tok, args);
  const signal = plan.message.signal;
  throwIfAborted(signal);
  const attempts: Attempt[] = [];
  // Serialized while the first connection opens, and kept for the next server if that one fails.
  const ahead = prepareAhead(tok, changesOf(plan.message.envelope));
  try {
    // A throw from tryServer ends the walk: a refusal that stops it, or input no server could take.
    for (const target of plan.targets) {
      const outcome = await tryServer(tok, plan, target, attempts, ahead);
      if (outcome.sent) return outcome.rejected;
    }
  } catch (error) {
    throw afterAbort(signal, error);
  }
  throw afterAbort(signal, allFailed(attempts));
}
