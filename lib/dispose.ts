/**
 * The well-known symbols of explicit resource management (`using`, `await
 * using`). Node has them from 20.4 (18.18) on; where a runtime lacks them,
 * Node's own fallback names (`Symbol.for('nodejs.dispose')`) are used, so a
 * method defined under them is still found by a library that polyfills the
 * same way, and defining it never throws.
 */
export const DISPOSE: typeof Symbol.dispose =
  (Symbol as { dispose?: typeof Symbol.dispose }).dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);

export const ASYNC_DISPOSE: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ?? (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);
