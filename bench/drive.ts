/**
 * The loops every client runs: one message after another, or a bounded
 * window of messages in flight (pooled). A failed message is counted, not
 * retried, and the first failure is kept so a broken run cannot pass for a
 * fast one.
 */

export interface Driven {
  ok: number;
  failed: number;
  firstError: unknown;
}

/** Runs `send(i)` for i in [0, count), at most `window` at once. */
export async function drive(count: number, window: number, send: (i: number) => Promise<void>): Promise<Driven> {
  const result: Driven = { ok: 0, failed: 0, firstError: undefined };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        await send(i);
        result.ok++;
      } catch (error) {
        result.failed++;
        result.firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, count)) }, lane));
  return result;
}

/** Throws the run's first failure when any message failed: a benchmark of failures measures nothing. */
export function mustAllSucceed(what: string, driven: Driven): void {
  if (driven.failed > 0) {
    const reason = driven.firstError instanceof Error ? driven.firstError.message : String(driven.firstError);
    throw new Error(`${what}: ${driven.failed} message(s) failed, first: ${reason}`);
  }
}
