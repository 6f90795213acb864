/**
 * The shapes of `smtp.sendmany`: what the source yields, what each message
 * becomes, the running counts and the options. The run itself is sendmany.ts.
 */
import type { Rejected } from '../../lib/errors';
import type { Token } from '../../mime';
import type { FileLedger } from './journal';
import type { PoolOptions } from './pool';
import type { SendMessageOptions } from '../sendmessage';

/**
 * One message of the source: a token, or a token with its own options, its id
 * and its digest (what the item means; computed from the envelope and the
 * message when not given, see message-digest.ts).
 */
export type BulkItem = Token | { token: Token; options?: SendMessageOptions; id?: string; digest?: string };

/** What became of one message. */
export interface BulkOutcome {
  /** The caller's id, else the message's Message-ID. */
  id: string;
  /**
   * `sent`: accepted (for some recipients at least; see `rejected`).
   * `refused`: the server refused the sender, the recipients or the message for good (5xx).
   * `failed`: not sent: bad input, retries used up, no server reachable, TLS or AUTH failure.
   * `uncertain`: the end of data went out and no final reply came back; it may have been delivered.
   * `duplicate`: the id came earlier in the same source: one item, sent (or not) once.
   */
  status: 'sent' | 'refused' | 'failed' | 'uncertain' | 'duplicate';
  /** Refused recipients `[address, code, diagnostic]`, as smtp.sendmessage returns them (or its error carries them). */
  rejected: Rejected[];
  /** Why the message was not sent (or may not have been); null when sent. */
  error: Error | null;
  /** How many times this run tried to send it (0 when the journal settled it). */
  attempts: number;
  /** True when the outcome comes from the journal of an earlier run, not from this one. */
  journaled: boolean;
}

/** Counts so far, given to `onProgress` after every outcome and every deferral. */
export interface BulkProgress {
  sent: number;
  refused: number;
  failed: number;
  uncertain: number;
  /** Items that came twice in the source (counted once, reported once as a duplicate). */
  duplicate: number;
  /** Outcomes taken from the journal (counted in the four above as well). */
  journaled: number;
  /** Messages being sent now. */
  inFlight: number;
  /** Messages waiting to be tried again. */
  deferred: number;
  /** Retries made so far. */
  retries: number;
  /** Outcomes so far. */
  done: number;
}

/** Options of {@link sendmany}: every pool option (defaults for every message) and the run's own. */
export interface SendManyOptions extends PoolOptions {
  /** Messages in flight at once. Default 5; `maxConnections` defaults to it. */
  concurrency?: number;
  /** Messages started per second, evenly spaced (retries count). Default: no limit. */
  rate?: number;
  /** How many times a temporary failure is tried again. Default 3. */
  retries?: number;
  /** Seconds before the first retry; doubled for each further one, with jitter. Default 5. */
  retryDelay?: number;
  /** The longest wait between tries, in seconds. Default 300. */
  maxRetryDelay?: number;
  /** Path of the write-ahead journal (JSON Lines), or a journal already opened with `FileLedger.open`. Without it, nothing is recorded. */
  journal?: string | FileLedger;
  /** The campaign's name, recorded in a new journal's manifest (default: the journal's file name). */
  campaign?: string;
  /** Send again the messages the journal shows as uncertain (they may then arrive twice). Default false. */
  resendUncertain?: boolean;
  /** Accept items whose id the journal knows with another digest, and record the new digest. Default false: such a run is refused. */
  acceptChanged?: boolean;
  /** Remove the journal's lock whoever holds it (the operator has checked that no run uses it). Default false. */
  breakLock?: boolean;
  /** Seconds of refused or dropped connections, with nothing delivered, before the run gives up (CircuitOpenError). 0 never gives up. Default 60. */
  giveUpAfter?: number;
  /** Called with the counts after every outcome and every deferral. */
  onProgress?: (progress: BulkProgress) => void;
  /**
   * Cancels the run: nothing more is read from the source or started, messages in flight are
   * aborted before their end of data (a journal keeps them pending or deferred, so a resume sends
   * them; one already past its end of data is `uncertain`, as always), and the iteration rejects
   * with an `AbortError` after the outcomes produced before it.
   */
  signal?: AbortSignal;
}
