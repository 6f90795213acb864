/**
 * The transactions of one message on an open, greeted session: the message
 * itself, follow-ups for recipients the server deferred with 452, and the
 * blind-copy digest. The session plans and carries out each one.
 */
import { type Rejected, SmtpError } from '../lib/errors';
import type { Token } from '../mime';
import { buildDigest } from './digest';
import type { Envelope } from './envelope';
import { refusedAll } from './failover';
import { type SendmailHooks, sendmailWith } from './protocol/session';
import type { MessageChanges, Session } from './protocol/types';
import type { Plan } from './send-plan';

/**
 * One transaction of a token as it is transmitted: the session serializes the
 * token with the fields added and left out (the part itself is never changed),
 * declares SIZE and BODY from it, and re-encodes 8-bit bodies without 8BITMIME.
 */
async function sendToken(
  session: Session,
  tok: Token,
  changes: MessageChanges,
  from: string,
  to: string[],
  atleastone: boolean,
  plan: Plan,
  first: TransactOptions,
): Promise<Rejected[]> {
  // A non-ASCII local part to a server without SMTPUTF8 is refused by the session as this server's shortcoming
  // (EEXTENSION, nothing sent), so the walk may try one that offers SMTPUTF8.
  const message = plan.message;
  return sendmailWith(
    session,
    from,
    to,
    tok,
    {
      atleastone,
      changes,
      beforeEndOfData: first.beforeEndOfData,
      dsn: message.dsn,
      requiretls: message.requiretls,
      chunking: message.chunking,
      binarymime: message.binarymime,
      dkim: message.dkim,
    },
    first,
  );
}

/** The transmitted copy's changes to the token: the fields the envelope adds and leaves out. */
export function changesOf(env: Envelope): MessageChanges {
  return { extraHeaders: env.addHeaders, omitHeaders: env.omitHeaders };
}

/**
 * What a layer built on sendmessage (smtp.pool, smtp.sendmany) may add to its transactions: the session's
 * hooks for the message's first transaction (what was prepared ahead, the pool's hand-off once the end of
 * data is written, a session that is dropped on a refusal), and the journal's hook before every end of data.
 */
export interface TransactOptions extends SendmailHooks {
  /** Passed to every transaction of the message: runs just before each end of data (a bulk journal's hook). */
  beforeEndOfData?: () => void | Promise<void>;
}

/**
 * Sends on an open, greeted session: the message, any follow-up transactions
 * for recipients the server deferred with 452 (RFC 5321 §4.5.3.1.10), then the
 * blind-copy digest. Only the first transaction decides whether the message
 * was accepted; the later ones report their failures as refused recipients.
 */
export async function transact(session: Session, tok: Token, plan: Plan, opts: TransactOptions = {}): Promise<Rejected[]> {
  const env = plan.message.envelope;
  const changes = changesOf(env);
  // Only the first transaction may use what was prepared ahead, or drop the connection on a refusal.
  const later: TransactOptions = { beforeEndOfData: opts.beforeEndOfData };
  let rejected = await sendToken(session, tok, changes, env.sender, env.recipients, plan.message.atleastone, plan, opts);

  if (plan.message.atleastone) {
    let deferred = rejected.filter(([, code]) => code === 452).map(([a]) => a);
    while (deferred.length > 0) {
      const settled = rejected.filter(([, code]) => code !== 452);
      try {
        rejected = [...settled, ...(await sendToken(session, tok, changes, env.sender, deferred, true, plan, later))];
      } catch (error) {
        if (!(error instanceof SmtpError)) throw error;
        rejected = [...settled, ...refusedAll(deferred, error, 'deferred recipients')];
        break;
      }
      const again = rejected.filter(([, code]) => code === 452).map(([a]) => a);
      if (again.length >= deferred.length) break;
      deferred = again;
    }
  }

  if (env.blind.length > 0) {
    try {
      const digest = await buildDigest(tok, env);
      try {
        rejected = [...rejected, ...(await sendToken(session, digest.token, {}, env.sender, env.blind, true, plan, later))];
      } finally {
        digest.release();
      }
    } catch (error) {
      // The message itself was accepted: a failed copy is reported per blind recipient, never thrown.
      const failure = error instanceof SmtpError
        ? error
        : new SmtpError('ESOURCE', 'body', `the digest could not be built: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      rejected = [...rejected, ...refusedAll(env.blind, failure, 'Bcc copy')];
    }
  }
  return rejected;
}
