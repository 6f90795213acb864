/**
 * The transmission channel under a session (RFC 5321 §2.3.9): commands out,
 * replies in, each read within its step's limit and the overall deadline. A
 * timeout, a drop or garbage closes it; so does a 421 (RFC 5321 §3.8). The
 * session's steps (session.ts) and the transaction's transfer (transfer.ts)
 * both speak through it.
 */
import { SmtpError, type Stage } from '../../lib/errors';
import * as cmd from './command';
import { type Command } from './command';
import { type Connection, type Deadline } from './connection';
import { describeReply, isPositive } from './reply';
import type { Reply, SessionState } from './types';

export class Channel {
  state: SessionState = 'greeting';
  /** The final replies of the latest message. */
  replies: Reply[] = [];
  // Transactions begun by sendmail: a final reply read after the next one began leaves the state alone.
  transactions = 0;

  constructor(
    readonly conn: Connection,
    readonly server: string,
    readonly port: number,
    readonly deadline: Deadline,
    readonly protocol: 'smtp' | 'lmtp',
  ) {}

  get secure(): boolean {
    return this.conn.secure;
  }

  /** Sends one command and reads its reply. */
  async exchange(command: Command): Promise<Reply> {
    this.conn.send([command]);
    return this.read(command.stage, command.timeoutSecs);
  }

  /**
   * Reads one reply within the step's RFC 5321 limit and the overall deadline.
   * A timeout, a drop or garbage closes the session; so does a 421, which is
   * thrown (RFC 5321 §3.8: the server is closing the channel).
   */
  async read(stage: Stage, limitSecs: number, deferFlush = false): Promise<Reply> {
    const bounded = this.deadline.bounds(limitSecs);
    let reply: Reply;
    try {
      reply = await this.conn.readReply(stage, this.deadline.wait(limitSecs), deferFlush);
    } catch (error) {
      throw this.readFailed(error, bounded);
    }
    if (reply.code === 421) throw this.closing(stage, reply);
    return reply;
  }

  /** The replies to `count` pipelined commands of one kind, read as {@link read} reads one. */
  async readMany(stage: Stage, limitSecs: number, count: number): Promise<Reply[]> {
    if (count === 1) return [await this.read(stage, limitSecs)];
    const bounded = this.deadline.bounds(limitSecs);
    let replies: Reply[];
    try {
      replies = await this.conn.readReplies(stage, this.deadline.wait(limitSecs), count, this.deadline.end);
    } catch (error) {
      throw this.readFailed(error, bounded);
    }
    // A 421 ends the list: the server is closing.
    const last = replies[replies.length - 1];
    if (last.code === 421) throw this.closing(stage, last);
    return replies;
  }

  /** A typed error for a reply the step cannot go on with. */
  refusal(stage: Stage, reply: Reply, what: string, code: 'ESMTP' | 'ETLS' | 'EAUTH' = 'ESMTP'): SmtpError {
    const error = this.conn.error(code, stage, `${what}: ${describeReply(reply)}`);
    error.replyCode = reply.code;
    error.enhanced = reply.enhanced;
    error.lines = reply.lines;
    return error;
  }

  /** RSET after an abandoned transaction; the session stays usable if the server agrees. */
  async abandon(): Promise<void> {
    if (this.state === 'closed') return;
    const reply = await this.exchange(cmd.rset());
    if (isPositive(reply)) this.state = 'ready';
  }

  close(): void {
    this.state = 'closed';
    this.conn.destroy();
  }

  /** A read that failed has closed the connection; a timeout that was the overall deadline's says so. */
  private readFailed(error: unknown, bounded: boolean): unknown {
    this.state = 'closed';
    if (error instanceof SmtpError && error.code === 'ETIMEOUT' && bounded) {
      error.message += ' (the overall maxsecs deadline)';
    }
    return error;
  }

  /** RFC 5321 §3.8: a 421 is the server closing the channel; the session closes too. */
  private closing(stage: Stage, reply: Reply): SmtpError {
    this.close();
    return this.refusal(stage, reply, 'server is closing the connection');
  }
}
