/**
 * The circuit breaker of a bulk run. When every server has refused or
 * dropped the connection for `giveUpAfter` seconds, with nothing delivered
 * meanwhile, trying row after row only burns each row's retries against a
 * dead relay. The run stops instead; the rows not sent stay pending in the
 * ledger, and a later run resumes them. While the relay looks dead, failures
 * of the connection do not use up a row's retries, and only one row at a time
 * probes the relay.
 */
import { SmtpError } from '../../lib/errors';

/** The run stopped because no server took a connection for `giveUpAfter` seconds; what was not sent stays pending. */
export class CircuitOpenError extends Error {
  readonly code = 'ECIRCUIT' as const;
  constructor(
    readonly seconds: number,
    readonly lastError: unknown,
  ) {
    super(
      `gave up: every server refused or dropped the connection for ${seconds} s with nothing delivered ` +
        `(last: ${(lastError as Error)?.message ?? String(lastError)}); the messages not sent stay pending, run again to resume`,
      { cause: lastError },
    );
    this.name = 'CircuitOpenError';
  }
}

const CONNECTION_STAGES = new Set(['connect', 'greeting']);

/** True when the failure came before any server would talk: refused, dropped or unanswered connections only. */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof SmtpError)) return false;
  if (error.code === 'EALLFAILED' || error.attempts.length > 0) {
    return error.attempts.length > 0 && error.attempts.every((a) => CONNECTION_STAGES.has(a.stage));
  }
  return (error.code === 'ECONNECTION' || error.code === 'ETIMEOUT' || error.code === 'ESMTP') && CONNECTION_STAGES.has(error.stage);
}

/** Watches failures and deliveries; says when to give up. */
export class Breaker {
  /** When the current run of connection failures began (ms), or null while servers answer. */
  private since: number | null = null;
  private last: unknown = null;

  constructor(
    /** Seconds of connection failures with nothing delivered before giving up; 0 never gives up. */
    readonly seconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A server answered (any reply to a transaction): the relay is alive. */
  alive(): void {
    this.since = null;
  }

  /** A try failed at the connection. */
  failed(error: unknown): void {
    this.last = error;
    this.since ??= this.now();
  }

  /** True while the last tries failed at the connection. */
  get suspect(): boolean {
    return this.seconds > 0 && this.since !== null;
  }

  /** Milliseconds until giving up, when suspect. */
  get remainingMs(): number | undefined {
    if (!this.suspect) return undefined;
    return Math.max(0, this.since! + this.seconds * 1000 - this.now());
  }

  /** The error to stop with, once `seconds` have passed. */
  tripped(): CircuitOpenError | null {
    if (!this.suspect || this.remainingMs! > 0) return null;
    return new CircuitOpenError(this.seconds, this.last);
  }
}
