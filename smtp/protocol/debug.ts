/**
 * The debug transcript: the dialogue as `C: ` / `S: ` lines, like smtplib's
 * debug output, with credentials masked (Tcllib printed them). A line marked
 * secret keeps its verb and mechanism and loses the rest; message content is
 * summarised by its size, not printed.
 */
import type { Command } from './command';

/** Where transcript lines go; null when debugging is off. */
export type DebugSink = ((line: string) => void) | null;

export const MASK = '****';

/** Turns the `debug` option into a sink: stderr for true, the function itself, or null. */
export function debugSink(debug: boolean | ((line: string) => void) | undefined): DebugSink {
  if (typeof debug === 'function') return debug;
  return debug ? (line) => process.stderr.write(`${line}\n`) : null;
}

/** How a command line appears in the transcript. */
export function maskedLine(command: Command): string {
  if (!command.secret) return command.line;
  if (command.verb === 'AUTH') {
    // 'AUTH PLAIN <initial response>' keeps 'AUTH PLAIN'.
    const [verb, mechanism] = command.line.split(' ');
    return `${verb} ${mechanism} ${MASK}`;
  }
  return MASK;
}

/** Writes transcript lines to a sink; every method is a no-op without one. */
export class Transcript {
  constructor(private readonly sink: DebugSink) {}

  get enabled(): boolean {
    return this.sink !== null;
  }

  sent(commands: readonly Command[]): void {
    if (this.sink) for (const command of commands) this.sink(`C: ${maskedLine(command)}`);
  }

  received(line: string): void {
    this.sink?.(`S: ${line}`);
  }

  /** A note about what happened on the connection (connect, TLS, close), not a protocol line. */
  note(text: string): void {
    this.sink?.(`-- ${text}`);
  }

  body(bytes: number): void {
    this.sink?.(`C: [message: ${bytes} bytes]`);
    this.sink?.('C: .');
  }
}
