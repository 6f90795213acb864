/**
 * The workloads of issue 8 and their sizes. Full sizes are the issue's; the
 * quick mode scales them down so that the whole run stays under a minute.
 */

export type WorkloadName = 'W1' | 'W2' | 'W3' | 'W4' | 'M1' | 'R1' | 'R2';
/** `raw-node` is W1's dialogue written with `net` alone: the floor for any Node library (bench/raw.ts). */
export type Implementation = 'tclmail' | 'nodemailer' | 'smtp-source' | 'raw-node';

export const WORKLOADS: readonly WorkloadName[] = ['W1', 'W2', 'W3', 'W4', 'M1', 'R1', 'R2'];

export interface WorkloadSize {
  /** Messages sent (W1-W4, R1) or built (M1). */
  messages: number;
  /** Envelope recipients per message. */
  recipients: number;
  /** Attachment size in bytes (W3, M1), 0 for none. */
  attachment: number;
  /** Connections used at once (W4, R2). */
  connections: number;
  /** Reply delay of the sink in ms (R1, R2), 0 for none. */
  delayMs: number;
  /** Messages sent before the clock starts, not counted (see sizeOf). */
  warmup: number;
}

/** What one run of a workload is asked to do (passed to the client process as JSON). */
export interface RunSpec extends WorkloadSize {
  workload: WorkloadName;
  implementation: Implementation;
  host: string;
  port: number;
  /** The attachment file (W3, M1). */
  file: string;
  /** W4's bulk sender in tclmail. */
  bulk?: 'pool' | 'sendmany';
}

/** What one run reports. */
export interface RunResult {
  elapsedMs: number;
  /** CPU time of the client process over the same span (user + system). */
  cpuMs?: number;
  /** Messages the server accepted (the run counts only the calls that succeeded). */
  messages: number;
  /** Bytes written (M1). */
  bytes?: number;
  /** Peak resident set size of the process, in MiB (M1). */
  peakRssMiB?: number;
  /** Resident set size before the work started, in MiB (M1). */
  baseRssMiB?: number;
}

const MB = 1024 * 1024;

/**
 * The size of a workload. `warm` adds messages sent before the clock starts, in
 * the same process (and, for W4, the same pool): the steady state once the
 * JavaScript engine has compiled the hot code, instead of a script's cold start.
 */
export function sizeOf(workload: WorkloadName, quick: boolean, warm = false): WorkloadSize {
  const none = { recipients: 1, attachment: 0, connections: 1, delayMs: 0, warmup: 0 };
  const warmup = (full: number, small: number): number => (warm ? (quick ? small : full) : 0);
  switch (workload) {
    case 'W1':
      return { ...none, messages: quick ? 300 : 2000, warmup: warmup(4000, 100) };
    case 'W2':
      return { ...none, messages: quick ? 40 : 200, recipients: 20, warmup: warmup(1000, 40) };
    case 'W3':
      return { ...none, messages: quick ? 4 : 20, attachment: 5 * MB, warmup: warmup(5, 2) };
    case 'W4':
      return { ...none, messages: quick ? 500 : 2000, connections: 5, warmup: warmup(6000, 100) };
    case 'M1':
      return { ...none, messages: 1, attachment: quick ? 20 * MB : 100 * MB };
    case 'R1':
      // Always one message first: R1 counts round trips, not the first call's compilation.
      return { ...none, messages: 1, recipients: 20, delayMs: 20, warmup: 1 };
    case 'R2':
      // Not one of issue 8's: the bulk sender over a slow link (a relay across the Internet), where round trips
      // per message, not CPU, set the pace. Same sink as R1; W4's window of four messages per connection.
      return { ...none, messages: quick ? 40 : 100, connections: 2, delayMs: 20, warmup: warmup(20, 10) };
  }
}

/** Which implementations run a workload; smtp-source only where the issue names it and when installed. */
export function implementationsFor(workload: WorkloadName, smtpSource: boolean): Implementation[] {
  const list: Implementation[] = ['tclmail', 'nodemailer'];
  if (smtpSource && (workload === 'W1' || workload === 'W4')) list.push('smtp-source');
  if (workload === 'W1') list.push('raw-node');
  return list;
}

/** The text of the W1/W2/W4 messages: about 2 KB of 72-character lines. */
export const BODY_BYTES = 1900;

export function textBody(bytes = BODY_BYTES): string {
  const line = 'The quick brown fox jumps over the lazy dog, 0123456789 times a day. ok';
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const text = `${String(i).padStart(3, '0')} ${line}`.slice(0, 72);
    lines.push(text);
    size += text.length + 2;
  }
  return lines.join('\r\n') + '\r\n';
}

export const SENDER = 'bench@example.org';

export function recipientList(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `rcpt${i + 1}@example.net`);
}
