/**
 * The dashboard's rate: messages finished per second, taken only over real
 * intervals between two counts the dashboard itself read. A count read too
 * soon after the last one is not kept (a batch of outcomes that lands in a
 * few milliseconds would read as hundreds a second); a count lower than the
 * one before (uncertain items resent, a journal replaced by a new run) or a
 * gap longer than `maxGapMs` (nobody was watching) starts a new segment, and
 * no rate spans it.
 */

/** `[epoch ms, messages per second]` at the end of each interval. */
export type RatePoint = [number, number];

export class RateHistory {
  /** `[epoch ms, done]`, oldest first. */
  private readonly kept: Array<[number, number]> = [];

  constructor(
    /** Counts read sooner than this after the last kept one are not kept. */
    private readonly minIntervalMs: number,
    /** An interval longer than this is a gap, not a rate. */
    private readonly maxGapMs: number,
    private readonly cap = 600,
  ) {}

  /** Keeps the count read at `at` when it ends an interval long enough to measure. */
  record(at: number, done: number): void {
    const last = this.kept[this.kept.length - 1];
    if (last !== undefined && at - last[0] < this.minIntervalMs) return;
    this.kept.push([at, done]);
    if (this.kept.length > this.cap) this.kept.splice(0, this.kept.length - this.cap);
  }

  /** The counts kept, oldest first. */
  samples(): Array<[number, number]> {
    return this.kept.map(([at, done]): [number, number] => [at, done]);
  }

  /** True when the interval ending at index `i` is one a rate may be taken over. */
  private real(i: number): boolean {
    const [t0, d0] = this.kept[i - 1];
    const [t1, d1] = this.kept[i];
    return d1 >= d0 && t1 - t0 <= this.maxGapMs && t1 > t0;
  }

  /** The rate over each real interval, in runs without a break: one line of the chart each. */
  segments(): RatePoint[][] {
    const runs: RatePoint[][] = [];
    let run: RatePoint[] = [];
    for (let i = 1; i < this.kept.length; i++) {
      if (!this.real(i)) {
        if (run.length > 0) runs.push(run);
        run = [];
        continue;
      }
      const [t0, d0] = this.kept[i - 1];
      const [t1, d1] = this.kept[i];
      run.push([t1, ((d1 - d0) * 1000) / (t1 - t0)]);
    }
    if (run.length > 0) runs.push(run);
    return runs;
  }

  /**
   * Finished per second over the real intervals of the last `windowMs` of
   * the newest segment (at least its newest interval); 0 until one real
   * interval has been seen, or when the newest one is a break.
   */
  rate(windowMs: number): number {
    const end = this.kept.length - 1;
    if (end < 1) return 0;
    const [lastT, lastDone] = this.kept[end];
    let start = end;
    // At least the newest interval counts, however long it was.
    while (start > 0 && this.real(start) && (start === end || lastT - this.kept[start - 1][0] <= windowMs)) start--;
    if (start === end) return 0;
    const [firstT, firstDone] = this.kept[start];
    return ((lastDone - firstDone) * 1000) / (lastT - firstT);
  }
}
