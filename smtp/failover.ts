/**
 * The failover walk's rules (Tcllib's `-servers` list, made safe): after a
 * failure at one server, may the next one try? Only a failure before the
 * message was accepted, and not a permanent refusal of the sender, the
 * recipients or the message, moves on; a lost reply after the end of data is
 * an uncertain outcome, never retried behind the caller's back. Also the
 * errors the caller gets, with every attempt recorded.
 */
import { type Attempt, type Rejected, SmtpError } from '../lib/errors';
import { refusedEntry } from './protocol/refused';
import type { Target } from './send-plan';

/** Tcllib's diagnostic for an error: the reply's first line (enhanced code included), else the local error's message. */
export function diagnosticOf(error: SmtpError): string {
  if (error.replyCode !== null && error.lines.length > 0) return error.lines[0].trim();
  return error.message;
}

/** The record of one failed try at one server, as `error.attempts` lists it. */
export function attemptOf(target: Target, error: SmtpError): Attempt {
  return { ...target, stage: error.stage, code: error.replyCode, enhanced: error.enhanced, diagnostic: diagnosticOf(error) };
}

/**
 * The reply-by-stage table: may the next server try after this
 * failure? Only a failure before the message was accepted, and not a
 * permanent refusal of the sender, the recipients or the message, moves on.
 */
export function movesOn(error: SmtpError): boolean {
  if (error.code === 'EUNCERTAIN') return false; // the dot went out: a retry may deliver twice
  if (error.code === 'ERECIPIENTS') return false; // recipients are judged one by one, not per server
  if (error.stage === 'body') return false; // our own message source failed: every server would see the same
  if (error.replyCode === 421) return true; // the server is closing the channel: RFC 5321 §3.8
  switch (error.stage) {
    case 'connect':
    case 'greeting':
    case 'ehlo':
    case 'helo':
    case 'starttls':
    case 'tls':
    case 'auth':
      return true;
    default:
      // MAIL, DATA, the dot: a lost or garbled channel, a local size limit, or a temporary refusal moves on; 5xx stops.
      return error.replyCode === null || error.replyCode < 500;
  }
}

/** Refused recipients of a follow-up transaction that failed as a whole: each gets the transaction's failure. */
export function refusedAll(addresses: readonly string[], error: SmtpError, what: string): Rejected[] {
  if (error.code === 'ERECIPIENTS' && error.rejected.length > 0) {
    const refused = new Set(error.rejected.map(([a]) => a.toLowerCase()));
    const others = addresses.filter((a) => !refused.has(a.toLowerCase()));
    return [...error.rejected, ...others.map((a) => refusedEntry(a, 0, `${what} not sent: ${error.message}`, null))];
  }
  const uncertain = error.code === 'EUNCERTAIN';
  const note = uncertain ? `${what}: no final reply, it may have been delivered` : `${what} not sent`;
  return addresses.map((a) => refusedEntry(a, error.replyCode ?? 0, `${note}: ${diagnosticOf(error)}`, error.enhanced));
}

/** The error the caller gets when a server's answer ends the walk. */
export function finalError(error: SmtpError, attempts: Attempt[]): SmtpError {
  let out: SmtpError;
  if (error.code === 'ESMTP' && error.replyCode !== null) {
    // Tcllib 1.20's wording: "553: 5.7.1 sender rejected".
    out = new SmtpError('ESMTP', error.stage, `${error.replyCode}: ${diagnosticOf(error)}`, {
      replyCode: error.replyCode,
      enhanced: error.enhanced,
      lines: error.lines,
      cause: error,
    });
    out.rejected = error.rejected;
    out.server = error.server;
    out.port = error.port;
  } else {
    out = error;
  }
  out.attempts = [...attempts];
  return out;
}

/** The error when no server took the message: every attempt, in order, and the last one's reply. */
export function allFailed(attempts: Attempt[]): SmtpError {
  const last = attempts[attempts.length - 1];
  const summary = attempts
    .map((a) => `${a.server}:${a.port} ${a.stage}: ${a.code === null ? '' : `${a.code} `}${a.diagnostic}`)
    .join('; ');
  const error = new SmtpError('EALLFAILED', last?.stage ?? 'connect', `every server failed: ${summary}`, {
    replyCode: last?.code ?? null,
    enhanced: last?.enhanced ?? null,
  });
  error.attempts = [...attempts];
  if (last) {
    error.server = last.server;
    error.port = last.port;
  }
  return error;
}
