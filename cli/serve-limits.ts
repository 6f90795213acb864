/**
 * The capture server faces the network, so what one client can hold is
 * bounded: how many connections at once, how many recipients per
 * transaction, how long a command line may take to arrive, and how long one
 * printed line may be. smtp-server already bounds the length of a command
 * line and closes a connection that sends nothing for `socketTimeout`; the
 * deadline here is the part it lacks: a client that sends a byte now and then
 * resets an idle timer forever, but it cannot make a line take longer than
 * `commandSecs` to finish.
 */
import type { Socket } from 'node:net';

/** The limits and their defaults. */
export interface ServeLimits {
  /** Connections at once; one more is answered 421 and closed. Default 100. */
  maxClients: number;
  /** Recipients in one transaction; one more is answered 452 4.5.3. Default 1000. */
  maxRecipients: number;
  /** Seconds a line (a command, or a line of the message) may take to arrive. Default 60. */
  commandSecs: number;
  /** Seconds without a byte before a connection is closed. Default 120. */
  idleSecs: number;
}

export const DEFAULT_LIMITS: ServeLimits = { maxClients: 100, maxRecipients: 1000, commandSecs: 60, idleSecs: 120 };

interface Watched {
  socket: Socket;
  /** When the line now arriving started: the last line end, or the connection. */
  lineStart: number;
}

/**
 * Closes every connection whose current line has been arriving for longer
 * than the deadline. A connection is watched from its first byte, and again on
 * its TLS socket after STARTTLS (the plain socket then sees no more data).
 */
export class LineDeadline {
  private readonly watched = new Map<string, Watched>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deadlineMs: number) {
    // One sweep a second for the whole server, not a timer per connection.
    this.timer = setInterval(() => this.sweep(Date.now()), Math.min(1000, deadlineMs)).unref();
  }

  /** Watches `socket`, replacing the plain socket of the same peer after STARTTLS. */
  watch(socket: Socket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const entry: Watched = { socket, lineStart: Date.now() };
    this.watched.set(key, entry);
    socket.on('data', (chunk: Buffer) => {
      if (chunk.includes(0x0a)) entry.lineStart = Date.now();
    });
    socket.once('close', () => {
      if (this.watched.get(key) === entry) this.watched.delete(key);
    });
  }

  /** Ends every watched connection at once (a server that is stopping). */
  destroyAll(): void {
    for (const { socket } of this.watched.values()) socket.destroy();
    this.watched.clear();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.watched) {
      if (now - entry.lineStart > this.deadlineMs) {
        this.watched.delete(key);
        entry.socket.destroy();
      }
    }
  }
}

/** Longest per-message line the server prints; a message with 100,000 recipients must not print megabytes. */
const MAX_RECIPIENTS_SHOWN = 10;
const MAX_LINE = 2000;

/** The recipient list for one printed line: the first ten, then how many more. */
export function recipientsShown(to: readonly string[]): string {
  const shown = to.slice(0, MAX_RECIPIENTS_SHOWN).map((address) => `<${address}>`).join(', ');
  return to.length > MAX_RECIPIENTS_SHOWN ? `${shown} and ${to.length - MAX_RECIPIENTS_SHOWN} more` : shown;
}

/** `text` cut to the longest line the server prints, saying so. */
export function boundedLine(text: string): string {
  return text.length <= MAX_LINE ? text : `${text.slice(0, MAX_LINE - 20)}... (${text.length} chars)`;
}
