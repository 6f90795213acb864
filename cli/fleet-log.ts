/**
 * The worker's log: one line per event. `--log json` writes one JSON object
 * per line on standard output (time, level, event, campaign, item, state,
 * code), for a log collector; the default writes short text lines on
 * standard error, for a person. Item ids and diagnostics come from lists and
 * servers, so text lines are made printable first.
 */
import type { Writable } from 'node:stream';
import { printable, UsageError } from './args';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One event: the fields a collector indexes, then any detail. */
export interface LogEvent {
  level: LogLevel;
  /** What happened, a stable word: `started`, `outcome`, `deferred`, `redis-down`, `stopping`, ... */
  event: string;
  campaign?: string;
  item?: string;
  state?: string;
  code?: number | null;
  /** Anything else worth keeping (a diagnostic, a count, a URL). */
  [detail: string]: unknown;
}

export type LogFormat = 'text' | 'json';

export function logFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError(`--log expects text or json, not ${JSON.stringify(value)}`);
}

export class FleetLog {
  constructor(
    private readonly format: LogFormat,
    private readonly streams: { stdout: Writable; stderr: Writable },
    private readonly now: () => Date = () => new Date(),
  ) {}

  write(entry: LogEvent): void {
    const { level, event, campaign, item, state, code, ...detail } = entry;
    if (this.format === 'json') {
      const record = { time: this.now().toISOString(), level, event, campaign: campaign ?? null, item: item ?? null, state: state ?? null, code: code ?? null, ...detail };
      this.streams.stdout.write(`${JSON.stringify(record)}\n`);
      return;
    }
    const parts = [this.now().toISOString(), level, event];
    if (campaign !== undefined) parts.push(`campaign=${campaign}`);
    if (item !== undefined) parts.push(`item=${item}`);
    if (state !== undefined) parts.push(state);
    if (code !== undefined && code !== null) parts.push(String(code));
    for (const [key, value] of Object.entries(detail)) if (value !== undefined) parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    this.streams.stderr.write(`${printable(parts.join(' '))}\n`);
  }

  info(event: string, fields: Omit<LogEvent, 'level' | 'event'> = {}): void {
    this.write({ ...fields, level: 'info', event });
  }

  warn(event: string, fields: Omit<LogEvent, 'level' | 'event'> = {}): void {
    this.write({ ...fields, level: 'warn', event });
  }

  error(event: string, fields: Omit<LogEvent, 'level' | 'event'> = {}): void {
    this.write({ ...fields, level: 'error', event });
  }
}
