/**
 * Progress of a `tclmail bulk` run on standard error: on a terminal one line
 * redrawn in place with CR (a bar, the rate, the counts, the time left); in a
 * log or pipe plain lines, at most one a second, then a summary. The clock is
 * passed in so that both forms can be checked without waiting.
 */
import type { Writable } from 'node:stream';

export type ProgressStyle = 'bar' | 'lines' | 'none';

export interface Counts {
  sent: number;
  refused: number;
  failed: number;
  uncertain: number;
}

const BAR_WIDTH = 24;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  readonly counts: Counts = { sent: 0, refused: 0, failed: 0, uncertain: 0 };
  /** Outcomes settled by this run (not taken from the journal): what the rate is made of. */
  private fresh = 0;
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawn = false;
  /** The word for a message done: `sent`, or `written` for a dry run. */
  verb = 'sent';

  constructor(
    private readonly out: Writable,
    private readonly style: ProgressStyle,
    private readonly total: number,
    private readonly now: () => number = Date.now,
    /** Milliseconds between redraws (bar) or lines. */
    private readonly interval = { bar: 100, lines: 1000 },
  ) {
    this.started = now();
  }

  get done(): number {
    const c = this.counts;
    return c.sent + c.refused + c.failed + c.uncertain;
  }

  /** Counts one outcome and redraws when it is time. */
  record(status: keyof Counts, journaled: boolean): void {
    this.counts[status] += 1;
    if (!journaled) this.fresh += 1;
    const every = this.style === 'bar' ? this.interval.bar : this.interval.lines;
    if (this.style !== 'none' && this.now() - this.lastDraw >= every) this.draw();
  }

  private rate(): number {
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? this.fresh / seconds : 0;
  }

  private status(): string {
    const c = this.counts;
    const rate = this.rate();
    const left = this.total - this.done;
    const eta = left === 0 ? 0 : rate > 0 ? left / rate : Infinity;
    return `${this.done}/${this.total} ${rate.toFixed(1)} msg/s ${this.verb} ${c.sent} refused ${c.refused} failed ${c.failed} uncertain ${c.uncertain} ETA ${duration(eta)}`;
  }

  private draw(): void {
    this.lastDraw = this.now();
    if (this.style === 'bar') {
      const filled = this.total === 0 ? BAR_WIDTH : Math.round((this.done / this.total) * BAR_WIDTH);
      // \x1b[K clears what a longer earlier line left at the end.
      this.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${this.status()}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`progress: ${this.status()}\n`);
    }
  }

  /** The last state of the bar, its line ended, and the summary line (any style but none). */
  finish(): void {
    if (this.style === 'none') return;
    if (this.style === 'bar') {
      this.draw();
      if (this.drawn) this.out.write('\n');
    }
    const c = this.counts;
    const seconds = (this.now() - this.started) / 1000;
    this.out.write(`done: ${this.done}/${this.total} in ${duration(seconds)}: ${this.verb} ${c.sent}, refused ${c.refused}, failed ${c.failed}, uncertain ${c.uncertain}\n`);
  }
}
