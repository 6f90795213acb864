/**
 * Cancelling a send with an `AbortSignal`, as `fetch` is cancelled: the call
 * rejects with a `DOMException` named `AbortError` (its `cause` is the
 * signal's reason) and the connection it was using is closed. An abort after the end of data was written cannot undo
 * the message: that outcome stays `UncertainDeliveryError`, which is honest.
 */
import { SmtpError } from '../../lib/errors';

/** The error an aborted call rejects with. */
export function abortError(signal: AbortSignal): DOMException {
  return new DOMException('the operation was aborted', { name: 'AbortError', cause: signal.reason });
}

/** Throws the AbortError when `signal` is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Runs `onAbort` when `signal` aborts; returns the function that stops listening. */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return NOTHING;
  if (signal.aborted) {
    onAbort();
    return NOTHING;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * What a call that failed while `signal` was aborted rejects with: the
 * AbortError, unless the message may have been delivered (that is reported
 * as it is). Any other failure is returned unchanged.
 */
export function afterAbort(signal: AbortSignal | undefined, error: unknown): unknown {
  if (!signal?.aborted) return error;
  if (error instanceof SmtpError && error.code === 'EUNCERTAIN') return error;
  if (error instanceof DOMException && error.name === 'AbortError') return error;
  return abortError(signal);
}

const NOTHING = (): void => undefined;
