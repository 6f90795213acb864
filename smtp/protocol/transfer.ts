/**
 * A planned transaction (transaction.ts) carried out on a channel: MAIL, RCPT
 * and DATA (pipelined when the server offers PIPELINING, RFC 2920), then the
 * body as DATA or BDAT (RFC 3030), the end of data and the final replies.
 * Whatever goes wrong before the end of data, the end of data is not sent, so
 * a truncated or unwanted message is never delivered.
 */
import { type Rejected, SmtpError, type Stage, UncertainDeliveryError } from '../../lib/errors';
import { DataCodec, firstEightBitOffset } from '../../lib/stream';
import { type Channel } from './channel';
import * as cmd from './command';
import { TIMEOUTS } from './command';
import { isReadable, type PreparedMessage } from './message-source';
import { isPositive } from './reply';
import { refusedEntry } from './refused';
import type { Transaction } from './transaction';
import type { Reply } from './types';

/** The largest BDAT chunk: a bound on what is held before it goes out. */
const BDAT_CHUNK = 256 * 1024;

/** How the caller takes part in one transaction's transfer. */
export interface TransferOptions {
  /** Send when at least one recipient was accepted; false: any refusal cancels. */
  atleastone: boolean;
  /** The server offers PIPELINING (RFC 2920). */
  pipelining: boolean;
  /**
   * The caller ends the session if this transaction is refused (smtp.sendmessage's own connection): DATA is
   * pipelined even with `atleastone` false, and a partial refusal that meets a 354 closes the connection
   * (nothing is delivered without the end of data) instead of resetting it.
   */
  disposable: boolean;
  /** Runs after the last byte of the message and before the end of data; a throw abandons the message. */
  beforeEndOfData?: () => void | Promise<void>;
  /**
   * Called once the end of data is written, when one final reply is to come: the next transaction may write its
   * commands now, so that they leave with the end of data; their replies are read after this one's final reply.
   */
  handoff?: () => void;
}

/** The replies to the transaction's commands: MAIL, each RCPT, and DATA when it went with them. */
interface CommandReplies {
  mail: Reply;
  rcpts: Reply[];
  /** DATA's reply when DATA was pipelined with the RCPTs, else null (DATA is still to be sent). */
  data: Reply | null;
}

/**
 * MAIL, the RCPTs and maybe DATA. With PIPELINING (RFC 2920) they go in one
 * write and their replies are read in order; without it each waits for its
 * reply, and no RCPT follows a refused MAIL.
 */
async function sendCommands(ch: Channel, tx: Transaction, opts: TransferOptions): Promise<CommandReplies> {
  const mailCommand = cmd.mail(tx.mail.reversePath, tx.mail.params);
  const rcptCommands = tx.rcpts.map((r) => cmd.rcpt(r.forwardPath, r.params));
  if (!opts.pipelining) {
    const mail = await ch.exchange(mailCommand);
    const rcpts: Reply[] = [];
    if (isPositive(mail)) for (const command of rcptCommands) rcpts.push(await ch.exchange(command));
    return { mail, rcpts, data: null };
  }
  // DATA goes with the RCPTs when a refusal cannot leave a message begun that must not go: one acceptance is
  // enough (atleastone); there is one recipient (its refusal leaves none, and RFC 2920 §3.1's lone dot ends a
  // DATA taken anyway); or the connection may simply be dropped (disposable). With BDAT there is no DATA to
  // pipeline: the first chunk follows the replies.
  const pipelineData = (opts.atleastone || tx.rcpts.length === 1 || opts.disposable) && tx.body.transfer === 'DATA';
  ch.conn.send(pipelineData ? [mailCommand, ...rcptCommands, cmd.data()] : [mailCommand, ...rcptCommands]);
  const mail = await ch.read('mail', TIMEOUTS.mail);
  const rcpts = await ch.readMany('rcpt', TIMEOUTS.rcpt, rcptCommands.length);
  const data = pipelineData ? await ch.read('data', TIMEOUTS.data) : null;
  return { mail, rcpts, data };
}

/** Carries out `tx`: resolves to the refused recipients when the message was accepted, else throws. */
export async function transfer(ch: Channel, tx: Transaction, prepared: PreparedMessage, opts: TransferOptions): Promise<Rejected[]> {
  ch.transactions++;
  const { mail: mailReply, rcpts: rcptReplies, data } = await sendCommands(ch, tx, opts);
  let dataReply = data;
  if (!isPositive(mailReply)) {
    if (dataReply?.code === 354) {
      // The server took DATA after refusing the sender: a lone '.' could deliver something. Drop the connection.
      ch.close();
    } else await ch.abandon();
    throw ch.refusal('mail', mailReply, 'MAIL FROM refused');
  }
  ch.state = 'mail';
  const rejected: Rejected[] = [];
  const accepted: string[] = [];
  rcptReplies.forEach((reply, i) => {
    const recipient = tx.rcpts[i].recipient;
    if (isPositive(reply)) accepted.push(recipient);
    else rejected.push(refusedEntry(recipient, reply.code, reply.text, reply.enhanced));
  });
  if (accepted.length > 0) ch.state = 'rcpt';

  if (accepted.length === 0 || (rejected.length > 0 && !opts.atleastone)) {
    await refuseRecipients(ch, dataReply, accepted.length > 0);
    throw recipientsError(ch, rcptReplies, rejected, accepted.length);
  }

  // LMTP answers the end of data once per accepted recipient (RFC 2033 §4.2).
  const count = ch.protocol === 'lmtp' ? accepted.length : 1;
  // With one final reply to come, the next transaction (or QUIT) may begin once the end of data is written:
  // only with PIPELINING, which lets the end of data and the commands after it go without waiting (RFC 2920).
  const handoff = count === 1 && opts.pipelining ? opts.handoff : undefined;
  let replies: Reply[];
  if (tx.body.transfer === 'BDAT') {
    replies = await sendChunks(ch, prepared, count, tx.body.binary, tx.guardSevenBit, opts.beforeEndOfData, handoff);
  } else {
    if (!dataReply) dataReply = await ch.exchange(cmd.data());
    if (dataReply.code !== 354) {
      await ch.abandon();
      const error = ch.refusal('data', dataReply, 'DATA refused');
      error.rejected = rejected;
      throw error;
    }
    replies = await sendBody(ch, prepared, count, tx.guardSevenBit, opts.beforeEndOfData, handoff);
  }
  return judgeFinal(ch, replies, accepted, rejected);
}

/** The final replies: SMTP's one, or LMTP's one per accepted recipient (each refusal among the refused recipients). */
function judgeFinal(ch: Channel, replies: Reply[], accepted: string[], rejected: Rejected[]): Rejected[] {
  if (ch.protocol === 'smtp') {
    if (!isPositive(replies[0])) throw ch.refusal('dot', replies[0], 'message refused');
    return rejected;
  }
  replies.forEach((reply, i) => {
    if (!isPositive(reply)) rejected.push(refusedEntry(accepted[i], reply.code, reply.text, reply.enhanced));
  });
  if (replies.find((reply) => isPositive(reply)) === undefined) {
    const error = ch.refusal('dot', replies[0], 'message refused for every recipient');
    error.rejected = rejected;
    throw error;
  }
  return rejected;
}

/** `ERECIPIENTS`: nobody accepted, or someone refused without atleastone; the first refusal's reply is the error's. */
function recipientsError(ch: Channel, rcptReplies: Reply[], rejected: Rejected[], acceptedCount: number): SmtpError {
  const error = ch.conn.error(
    'ERECIPIENTS',
    'rcpt',
    acceptedCount === 0 ? 'no recipient was accepted' : `${rejected.length} recipient(s) refused and atleastone is false`,
  );
  error.rejected = rejected;
  const first = rcptReplies.find((r) => !isPositive(r));
  if (first) {
    error.replyCode = first.code;
    error.enhanced = first.enhanced;
    error.lines = first.lines;
  }
  return error;
}

/** The recipients do not allow the message: a DATA already taken is ended without delivering anything, then RSET. */
async function refuseRecipients(ch: Channel, dataReply: Reply | null, someAccepted: boolean): Promise<void> {
  if (dataReply?.code === 354 && someAccepted) {
    // Some recipients were accepted and the message must not reach them alone: a lone dot would deliver an
    // empty message to them, so the connection is dropped instead; without its end of data nothing is delivered.
    ch.close();
  } else if (dataReply?.code === 354) {
    // RFC 2920 §3.1: DATA was taken with no valid recipient; end it with a lone dot and ignore the reply.
    await ch.conn.write(Buffer.from('.\r\n'), 'data', ch.deadline.wait(TIMEOUTS.block));
    await ch.read('dot', TIMEOUTS.dot);
    ch.state = 'ready';
  }
  await ch.abandon();
}

/** Reads the message source, chunk by chunk, into `each`; a failure closes the connection before any end of data. */
async function stream(
  ch: Channel,
  prepared: PreparedMessage,
  guardSevenBit: boolean,
  each: (bytes: Buffer) => Promise<void>,
  beforeEndOfData?: () => void | Promise<void>,
): Promise<void> {
  let offset = 0;
  const iterable = prepared.open();
  const source = iterable[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await nextChunk(ch, source);
      if (next.done) break;
      const chunk = next.value;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      if (guardSevenBit) {
        const at = firstEightBitOffset(bytes);
        if (at >= 0) {
          throw ch.conn.error('EEXTENSION', 'body', `8-bit byte at offset ${offset + at} but ${ch.server} does not offer 8BITMIME (nothing was delivered)`);
        }
      }
      offset += bytes.length;
      await each(bytes);
    }
    // The caller's last word before the message can be delivered (a bulk journal's write-ahead line).
    if (beforeEndOfData) await beforeEndOfData();
  } catch (error) {
    // Never write the end of data after a failure: a truncated message must not be delivered.
    ch.close();
    // Lets a file or stream source release what it holds; a source that hangs is not waited for (a stream's
    // iterator would only end once its pending read does, so the stream itself is destroyed).
    if (isReadable(iterable)) iterable.destroy();
    else source.return?.().catch(() => undefined);
    if (error instanceof SmtpError) throw error;
    throw ch.conn.error('ESOURCE', 'body', `reading the message failed: ${(error as Error)?.message ?? String(error)}`, error);
  }
}

/**
 * The source's next chunk, within the data-block limit and the overall
 * deadline: a source that stops giving bytes must not hold the send (and the
 * connection) forever.
 */
function nextChunk<T>(ch: Channel, source: AsyncIterator<T>): Promise<IteratorResult<T>> {
  const ms = ch.deadline.wait(TIMEOUTS.block);
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(ch.conn.error('ETIMEOUT', 'body', `the message source gave no bytes for ${ms} ms; the end of data was not sent`)), ms);
  });
  return Promise.race([source.next(), stalled]).finally(() => clearTimeout(timer));
}

/** After a 354: the body, CRLF-normalized and dot-stuffed, then the end of data and its `count` final replies. */
export async function sendBody(
  ch: Channel,
  prepared: PreparedMessage,
  count = 1,
  guardSevenBit = false,
  beforeEndOfData?: () => void | Promise<void>,
  handoff?: () => void,
): Promise<Reply[]> {
  ch.state = 'data';
  const codec = new DataCodec();
  await stream(
    ch,
    prepared,
    guardSevenBit,
    async (bytes) => {
      const out = codec.encode(bytes);
      if (out.length > 0) await ch.conn.write(out, 'data', ch.deadline.wait(TIMEOUTS.block));
    },
    beforeEndOfData,
  );
  const terminator = codec.end();
  ch.conn.transcript.body(codec.contentLength);
  await checkOpen(ch);
  return finalReplies(ch, count, () => ch.conn.write(terminator, 'dot', ch.deadline.wait(TIMEOUTS.block)), handoff);
}

/**
 * BDAT (RFC 3030): the message in chunks counted in octets, so nothing is
 * dot-stuffed and nothing ends it but `LAST`. Line ends are made CRLF as for
 * DATA, so the server reads the same message either way; a BINARYMIME
 * message goes untouched. Each chunk waits for its reply; the last one's
 * replies are the final ones.
 */
async function sendChunks(
  ch: Channel,
  prepared: PreparedMessage,
  count: number,
  binary: boolean,
  guardSevenBit: boolean,
  beforeEndOfData?: () => void | Promise<void>,
  handoff?: () => void,
): Promise<Reply[]> {
  ch.state = 'data';
  const codec = binary ? null : new DataCodec({ dotStuffing: false });
  let pending: Buffer[] = [];
  let size = 0;
  let total = 0;
  const writeChunk = async (last: boolean, stage: Stage): Promise<void> => {
    ch.conn.send([cmd.bdat(size, last)]);
    for (const piece of pending) await ch.conn.write(piece, stage, ch.deadline.wait(TIMEOUTS.block));
    total += size;
    pending = [];
    size = 0;
  };
  await stream(
    ch,
    prepared,
    guardSevenBit,
    async (bytes) => {
      const out = codec ? codec.encode(bytes) : bytes;
      if (out.length === 0) return;
      pending.push(out);
      size += out.length;
      if (size < BDAT_CHUNK) return;
      await writeChunk(false, 'data');
      const reply = await ch.read('data', TIMEOUTS.block);
      // RFC 3030 §2: after a refused chunk no further chunk may follow; the transaction is over.
      if (!isPositive(reply)) throw ch.refusal('data', reply, 'BDAT chunk refused');
    },
    beforeEndOfData,
  );
  const tail = codec ? codec.endLine() : Buffer.alloc(0);
  if (tail.length > 0) {
    pending.push(tail);
    size += tail.length;
  }
  ch.conn.transcript.body(total + size);
  await checkOpen(ch);
  return finalReplies(ch, count, () => writeChunk(true, 'dot'), handoff);
}

/**
 * Before the end of data: a connection already lost cannot have taken the
 * message. A server that spoke during the body (no reply is due before the
 * end of data) gets no end of data either: its early reply would be read as
 * the answer to the dot while the server goes on to accept the message, and
 * a failover would then deliver it twice.
 */
async function checkOpen(ch: Channel): Promise<void> {
  if (ch.conn.hasUnread) {
    let early: Reply | null = null;
    try {
      early = await ch.conn.readReply('data', 0);
    } catch {
      // Not a whole reply: reported below as a protocol error.
    }
    ch.close();
    if (early && early.code >= 400) throw ch.refusal('data', early, 'server answered before the end of data');
    throw ch.conn.error('EPROTOCOL', 'data', 'server broke the protocol: it sent bytes during the message body; the end of data was not sent');
  }
  if (ch.conn.closed) {
    ch.state = 'closed';
    throw ch.conn.error('ECONNECTION', 'data', `connection to ${ch.server}:${ch.port} lost before the end of data`);
  }
}

/**
 * Sends the end of data and reads the final replies. Once it is out, a lost
 * reply means the server may have taken the message: that is reported as an
 * uncertain outcome, never as a failure that may be retried.
 */
async function finalReplies(ch: Channel, count: number, sendEnd: () => Promise<void>, handoff?: () => void): Promise<Reply[]> {
  const transaction = ch.transactions;
  const replies: Reply[] = [];
  try {
    await sendEnd();
    // The next transaction's commands, written in this turn, join the end of data in one write (RFC 2920 §3.1
    // lets message content open a group); its replies are read after this one's final reply.
    if (handoff) handoff();
    for (let i = 0; i < count; i++) replies.push(await ch.read('dot', TIMEOUTS.dot, handoff !== undefined));
  } catch (error) {
    if (!(error instanceof SmtpError) || error.replyCode !== null) throw error;
    ch.close();
    const uncertain = new UncertainDeliveryError(`no reply to the end of data from ${ch.server}:${ch.port}: ${error.message}`, { cause: error });
    uncertain.server = ch.server;
    uncertain.port = ch.port;
    throw uncertain;
  }
  // A transaction that began meanwhile owns the state now; a QUIT sent meanwhile has closed it.
  if (ch.transactions === transaction && ch.state !== 'closed') ch.state = 'ready';
  ch.replies = replies;
  return replies;
}
