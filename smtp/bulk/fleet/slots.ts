/**
 * Messages in flight on one worker, counted: at most `size` at once, taken in
 * the order asked. This is what bounds the items a killed worker leaves
 * uncertain.
 */
export class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {}

  /** Slots in use. */
  get inUse(): number {
    return this.used;
  }

  /** Slots free now, less those already promised to waiters. */
  get free(): number {
    return Math.max(0, this.size - this.used - this.waiters.length);
  }

  async acquire(): Promise<void> {
    if (this.used < this.size && this.waiters.length === 0) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter: the count does not change.
    if (next) next();
    else this.used--;
  }
}
