/**
 * `smtp.pool`: `smtp.sendmessage` over connections that stay open. Each
 * message is planned and transacted exactly as sendmessage does it (same
 * options, envelope, reply-by-stage failover, errors); what changes is where
 * the session comes from. A finished message hands its session back; the
 * next message with the same connection settings takes it (after an RSET
 * when the previous transaction was left unfinished), until the session has carried
 * `maxMessages` messages, the server closes it (421, a drop), or it idles for
 * `idleSecs`. At most `maxConnections` sessions are open, opening or busy at
 * once; a message that finds none free waits its turn.
 */
import { ASYNC_DISPOSE } from '../../lib/dispose';
import { type Attempt, type Rejected, SmtpError } from '../../lib/errors';
import { type OptionSpecs, type OptionsOf, parseOptions, type ParsedOptions, type TclWords } from '../../lib/options';
import type { Token } from '../../mime';
import { allFailed, attemptOf, finalError, movesOn, refusedAll } from '../failover';
import { openSession } from '../open-session';
import { afterAbort, throwIfAborted, whenAborted } from '../protocol/abort';
import { type CallOptions, Plan, planParsed, sameSession, SEND_CALL_OPTIONS, type SendMessageOptions, type SendOptions, type SessionSettings, type Target } from '../send-plan';
import { transact, type TransactOptions } from '../transact';
import type { Session } from '../protocol/types';

/** Options of {@link pool}: every sendmessage option, as the default for each message, and the pool's limits. */
export interface PoolOptions extends SendMessageOptions {
  /** Most sessions open at once (busy, idle or being opened). Default 5. */
  maxConnections?: number;
  /** Messages one session carries before it is closed and a fresh one opened. Default 100. */
  maxMessages?: number;
  /** Seconds an idle session is kept before it is closed with QUIT. Default 30. */
  idleSecs?: number;
}

/** A sender with `smtp.sendmessage`'s contract that reuses its connections. */
export interface Pool {
  /**
   * Sends one message, as `smtp.sendmessage(tok, options)` does, over a pooled
   * session. `options` are merged over the pool's (the `header` pairs are
   * added to the pool's; every other option given replaces the pool's).
   */
  sendmessage(tok: Token, options?: SendMessageOptions & CallOptions): Promise<Rejected[]>;
  sendmessage(tok: Token, ...flat: TclWords): Promise<Rejected[]>;
  /** Waits for every message already handed to the pool, then QUITs every session. Later sends are refused. */
  close(): Promise<void>;
  /** `await using pool = smtp.pool(...)` closes the pool at the end of the block, as {@link Pool.close}. */
  [ASYNC_DISPOSE](): Promise<void>;
  /** Sessions open now (busy, idle or being opened). */
  readonly connections: number;
}

const COMMAND = 'smtp.pool';

/** The pool's own options, beside sendmessage's. */
export const POOL_LIMITS = {
  maxConnections: { kind: 'integer', min: 1 },
  maxMessages: { kind: 'integer', min: 1 },
  idleSecs: { kind: 'integer', min: 1 },
} as const satisfies OptionSpecs;

/** Everything {@link pool} accepts. */
export const POOL_OPTIONS = { ...SEND_CALL_OPTIONS, ...POOL_LIMITS } as const satisfies OptionSpecs;

/** The pool's limits, read once. */
export interface PoolLimits {
  maxConnections: number;
  maxMessages: number;
  idleSecs: number;
}

/** Splits parsed pool options into the per-message defaults and the limits. */
export function readPoolOptions(parsed: OptionsOf<typeof POOL_LIMITS> & ParsedOptions, defaults: Partial<PoolLimits> = {}): { limits: PoolLimits; messageDefaults: SendOptions } {
  const messageDefaults: ParsedOptions = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (Object.prototype.hasOwnProperty.call(SEND_CALL_OPTIONS, name)) messageDefaults[name] = value;
  }
  return {
    limits: {
      maxConnections: parsed.maxConnections ?? defaults.maxConnections ?? 5,
      maxMessages: parsed.maxMessages ?? defaults.maxMessages ?? 100,
      idleSecs: parsed.idleSecs ?? defaults.idleSecs ?? 30,
    },
    messageDefaults,
  };
}

/** A message's options over the defaults: `header` pairs add up, any other option replaces. */
export function mergeOptions<T extends SendOptions>(defaults: T, own: T): T {
  // Object.assign, not spread: V8 copies these option records (built key by key) about ten times faster. Their keys are
  // option names from a table, never `__proto__`, so the two copy alike.
  const merged: T = Object.assign({}, defaults, own);
  if (defaults.header !== undefined && own.header !== undefined) merged.header = [...defaults.header, ...own.header];
  return merged;
}

interface Slot {
  session: Session;
  /** What the session was opened with: a message with the same session settings may take it. */
  settings: SessionSettings;
  target: Target;
  /** Messages begun on this session. */
  messages: number;
  /** The previous message left the session outside a clean state: RSET before the next. */
  dirty: boolean;
  /** When the session's own overall deadline runs out (ms since the epoch). */
  expires: number;
  idleTimer: NodeJS.Timeout | null;
  /** Messages on the session now: a second may begin once the first one's end of data is written. */
  users: number;
  /** In the idle list while its one message waits for its final reply: open to one more message. */
  offered: boolean;
}

interface Lease {
  slot: Slot;
  index: number;
  reused: boolean;
}

/** A 452 to some recipients and no other refusal: RFC 5321 §4.5.3.1.10 asks for a further transaction, not a failure. */
function onlyDeferred(error: unknown): error is SmtpError {
  return error instanceof SmtpError && error.code === 'ERECIPIENTS' && error.rejected.length > 0 && error.rejected.every(([, code]) => code === 452);
}

function withRecipients(plan: Plan, recipients: string[], blind: string[], atleastone: boolean): Plan {
  const message = plan.message;
  return new Plan(plan.targets, plan.session, { ...message, atleastone, envelope: { ...message.envelope, recipients, blind } });
}

/**
 * sendmessage's transactions, and one more rule: with `atleastone` false, a
 * 452 ("too many recipients") is not a refusal. The accepted recipients get the
 * message now and the deferred ones in further transactions (sendmessage
 * itself does this only with `atleastone`). Failures of those later
 * transactions are reported as refused recipients, as sendmessage reports them.
 */
async function transactAll(session: Session, tok: Token, plan: Plan, opts: TransactOptions): Promise<Rejected[]> {
  try {
    return await transact(session, tok, plan, opts);
  } catch (error) {
    const envelope = plan.message.envelope;
    if (plan.message.atleastone || !onlyDeferred(error)) throw error;
    const later = new Set(error.rejected.map(([address]) => address.toLowerCase()));
    const now = envelope.recipients.filter((a) => !later.has(a.toLowerCase()));
    // Nobody accepted: that is a temporary failure of the whole message.
    if (now.length === 0) throw error;
    const rest = envelope.recipients.filter((a) => later.has(a.toLowerCase()));
    const first = await transactAll(session, tok, withRecipients(plan, now, envelope.blind, false), opts);
    try {
      return [...first, ...(await transact(session, tok, withRecipients(plan, rest, [], true), opts))];
    } catch (more) {
      if (!(more instanceof SmtpError)) throw more;
      return [...first, ...refusedAll(rest, more, 'deferred recipients')];
    }
  }
}

/** A failure of a reused session that says only that the session went stale: the server closed it while it idled. */
function isStale(error: SmtpError): boolean {
  if (error.code === 'EUNCERTAIN' || error.stage === 'dot') return false;
  return error.code === 'ECONNECTION' || error.code === 'ETIMEOUT' || error.code === 'EPROTOCOL' || error.replyCode === 421;
}

/** The pool behind {@link pool}; {@link deliver} is what smtp.sendmany uses. @internal */
export class SessionPool implements Pool {
  private readonly idle: Slot[] = [];
  private busy = 0;
  private opening = 0;
  private waiters: Array<() => void> = [];
  private readonly retiring = new Set<Promise<void>>();
  private closing = false;
  private drained: Array<() => void> = [];
  private inFlight = 0;
  private offeredCount = 0;
  // The settings of the latest message: the next one with equal settings shares this object, so slots compare by identity.
  private lastSettings: SessionSettings | null = null;

  constructor(
    private readonly messageDefaults: SendOptions,
    private readonly limits: PoolLimits,
  ) {}

  get connections(): number {
    // A session being closed still holds its socket until the QUIT is answered.
    return this.idle.length - this.offeredCount + this.busy + this.opening + this.retiring.size;
  }

  sendmessage(tok: Token, ...args: unknown[]): Promise<Rejected[]> {
    if (this.closing) return Promise.reject(new SmtpError('ECONNECTION', 'connect', `${COMMAND}: the pool is closed`));
    let plan: Plan;
    try {
      plan = this.plan(tok, parseOptions('smtp.sendmessage', SEND_CALL_OPTIONS, args));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.deliver(tok, plan);
  }

  /** The plan of one message: its options over the pool's, read and checked as sendmessage reads them. */
  plan(tok: Token, own: SendOptions): Plan {
    // Both sides were read with sendmessage's table already: reading the merge again would only copy it.
    return planParsed(tok, mergeOptions(this.messageDefaults, own));
  }

  /**
   * Sends one planned message: sendmessage's walk over the servers, on pooled
   * sessions. Resolves to the refused recipients; throws what sendmessage
   * would throw, with every attempt recorded.
   */
  async deliver(tok: Token, plan: Plan, opts: TransactOptions = {}): Promise<Rejected[]> {
    const signal = plan.message.signal;
    throwIfAborted(signal);
    this.inFlight++;
    try {
      return await this.walk(tok, plan, opts);
    } catch (error) {
      throw afterAbort(signal, error);
    } finally {
      this.inFlight--;
      this.settle();
    }
  }

  [ASYNC_DISPOSE](): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    // Nothing is in flight, so no session is on offer: every idle one is free to go.
    for (const slot of this.idle.splice(0)) if (!slot.offered) this.retire(slot);
    while (this.retiring.size > 0) await Promise.all([...this.retiring]);
  }

  /** The previous message's settings when equal to these: then most slots compare by identity, not field by field. */
  private canonical(settings: SessionSettings): SessionSettings {
    const last = this.lastSettings;
    if (last !== null && sameSession(last, settings)) return last;
    this.lastSettings = settings;
    return settings;
  }

  private async walk(tok: Token, plan: Plan, opts: TransactOptions): Promise<Rejected[]> {
    const settings = this.canonical(plan.session);
    const attempts: Attempt[] = [];
    const tried = new Set<number>();
    const fresh = new Set<number>();
    for (;;) {
      const lease = await this.acquire(plan, settings, tried, fresh, attempts);
      if (!lease) throw allFailed(attempts);
      const { slot } = lease;
      let timedOut = false;
      // maxsecs bounds each message; the session's own deadline spans its whole life in the pool.
      const watchdog = setTimeout(() => {
        timedOut = true;
        slot.session.close();
      }, plan.message.maxsecs * 1000);
      // An abort ends this message on its session: without its end of data nothing is delivered.
      const stopAbort = whenAborted(plan.message.signal, () => slot.session.close());
      try {
        // Once this message's end of data is written, the next one may begin on the session (pipelined).
        const rejected = await transactAll(slot.session, tok, plan, { ...opts, afterEndOfData: () => this.offer(slot) });
        this.release(slot);
        return rejected;
      } catch (caught) {
        this.release(slot);
        if (!(caught instanceof SmtpError) || plan.message.signal?.aborted) throw caught;
        let error = caught;
        if (timedOut && error.code !== 'EUNCERTAIN') {
          error = new SmtpError('ETIMEOUT', error.stage, `no progress with ${lease.slot.target.server}:${lease.slot.target.port} within maxsecs (${plan.message.maxsecs} s)`, { cause: caught });
          error.rejected = caught.rejected;
        }
        attempts.push(attemptOf(lease.slot.target, error));
        error.server ??= lease.slot.target.server;
        error.port ??= lease.slot.target.port;
        if (lease.reused && !timedOut && isStale(error) && !fresh.has(lease.index)) {
          // The server let an idle session go; the message never reached it. One fresh session to the same server.
          fresh.add(lease.index);
          continue;
        }
        if (!movesOn(error)) throw finalError(error, attempts);
        tried.add(lease.index);
      } finally {
        clearTimeout(watchdog);
        stopAbort();
      }
    }
  }

  /**
   * A session for `plan`: an idle one to a server not yet tried for this
   * message (in the order of `servers`), else a new one opened by walking the
   * untried servers in order, else the wait for one to come free. Null when
   * every server has been tried.
   */
  private async acquire(plan: Plan, settings: SessionSettings, tried: Set<number>, fresh: Set<number>, attempts: Attempt[]): Promise<Lease | null> {
    for (;;) {
      const reusable = await this.takeIdle(plan, settings, tried, fresh);
      if (reusable) return reusable;
      if (this.connections < this.limits.maxConnections) return this.openNew(plan, settings, tried, attempts);
      // Full: an idle session of other settings (or to a server this message passed by) makes room once it has QUIT.
      this.evictIdle();
      await this.waitTurn(plan.message.signal);
    }
  }

  private async takeIdle(plan: Plan, settings: SessionSettings, tried: Set<number>, fresh: Set<number>): Promise<Lease | null> {
    for (let index = 0; index < plan.targets.length; index++) {
      if (tried.has(index) || fresh.has(index)) continue;
      const target = plan.targets[index];
      const fits = (s: Slot): boolean => sameSession(s.settings, settings) && s.target.server === target.server && s.target.port === target.port;
      for (;;) {
        // A session with nothing on it first, then one whose message waits only for its final reply.
        let at = this.idle.findIndex((s) => !s.offered && fits(s));
        if (at < 0) at = this.idle.findIndex(fits);
        if (at < 0) break;
        const [slot] = this.idle.splice(at, 1);
        if (slot.offered) {
          slot.offered = false;
          this.offeredCount--;
          if (slot.session.state === 'closed' || slot.expires - Date.now() < plan.message.maxsecs * 1000) continue;
          slot.users++;
          return { slot, index, reused: true };
        }
        if (slot.idleTimer) clearTimeout(slot.idleTimer);
        slot.idleTimer = null;
        this.busy++;
        slot.users = 1;
        if (await this.usable(slot, plan)) return { slot, index, reused: true };
        slot.users = 0;
        this.busy--;
        this.retire(slot);
      }
    }
    return null;
  }

  /** Whether an idle session can take a message: open, with time left for one more, and in a clean state (RSET if not). */
  private async usable(slot: Slot, plan: Plan): Promise<boolean> {
    if (slot.session.state === 'closed') return false;
    if (slot.expires - Date.now() < plan.message.maxsecs * 1000) return false;
    if (!slot.dirty && slot.session.state === 'ready') return true;
    try {
      const reply = await slot.session.rset();
      slot.dirty = !(reply.code >= 200 && reply.code < 300);
      return !slot.dirty;
    } catch {
      return false;
    }
  }

  /** Opens a session to the first untried server that answers; the slot is counted from the start. */
  private async openNew(plan: Plan, settings: SessionSettings, tried: Set<number>, attempts: Attempt[]): Promise<Lease | null> {
    this.opening++;
    // Long enough for every message the session may carry, each within maxsecs, and the idle gaps between them.
    const lifetimeSecs = (plan.message.maxsecs + this.limits.idleSecs) * (this.limits.maxMessages + 1);
    try {
      for (let index = 0; index < plan.targets.length; index++) {
        if (tried.has(index)) continue;
        const target = plan.targets[index];
        const session = await openSession(plan, target, attempts, lifetimeSecs);
        if (session) {
          this.busy++;
          const slot: Slot = {
            session, settings, target, messages: 0, dirty: false, expires: Date.now() + lifetimeSecs * 1000, idleTimer: null, users: 1, offered: false,
          };
          return { slot, index, reused: false };
        }
        tried.add(index);
      }
      return null;
    } finally {
      this.opening--;
      this.wake();
    }
  }

  /** Makes room by closing the idle session that has waited longest (not one whose message is still on it). */
  private evictIdle(): void {
    const at = this.idle.findIndex((s) => !s.offered);
    if (at < 0) return;
    const [slot] = this.idle.splice(at, 1);
    this.retire(slot);
  }

  /**
   * Offers a session whose message has written its end of data to one more
   * message: that one's MAIL, RCPT and DATA go out with the end of data, and
   * their replies are read after its final reply (RFC 2920). A message that
   * fails because the first one's final reply ended the session never wrote
   * its own end of data, so it is retried as after a stale session.
   */
  private offer(slot: Slot): void {
    if (this.closing || slot.offered || slot.users !== 1) return;
    if (slot.session.state === 'closed' || slot.messages + 1 >= this.limits.maxMessages) return;
    slot.offered = true;
    this.offeredCount++;
    this.idle.push(slot);
    this.wake();
  }

  /** Takes a session back after a message: kept idle for the next one, or closed. */
  private release(slot: Slot): void {
    slot.messages++;
    slot.users--;
    // The message that began behind this one has the session now; it gives it back in turn.
    if (slot.users > 0) return;
    if (slot.offered) {
      // On offer, and nobody came: it is an ordinary idle session from here.
      slot.offered = false;
      this.offeredCount--;
      this.idle.splice(this.idle.indexOf(slot), 1);
    }
    this.busy--;
    if (slot.session.state === 'closed') {
      this.wake();
      return;
    }
    if (this.closing || slot.messages >= this.limits.maxMessages) {
      this.retire(slot);
      return;
    }
    // After the final reply the server has reset the transaction itself (RFC 5321 §4.1.1.4), and after a refusal the
    // session has sent RSET; a session left anywhere else gets an RSET before it carries another message.
    slot.dirty = slot.session.state !== 'ready';
    slot.idleTimer = setTimeout(() => {
      const at = this.idle.indexOf(slot);
      if (at >= 0) {
        this.idle.splice(at, 1);
        this.retire(slot);
      }
    }, this.limits.idleSecs * 1000);
    slot.idleTimer.unref();
    this.idle.push(slot);
    this.wake();
  }

  /** QUIT in the background; close() waits for it. */
  private retire(slot: Slot): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = null;
    const done: Promise<void> = slot.session.quit().finally(() => {
      this.retiring.delete(done);
      this.wake();
    });
    this.retiring.add(done);
  }

  /** Waits until a session may come free; an abort ends the wait (AbortError) and gives the turn to the next waiter. */
  private async waitTurn(signal: AbortSignal | undefined): Promise<void> {
    let wake!: () => void;
    const turn = new Promise<void>((resolve) => (wake = resolve));
    this.waiters.push(wake);
    const stop = whenAborted(signal, () => {
      const at = this.waiters.indexOf(wake);
      if (at >= 0) this.waiters.splice(at, 1);
      wake();
    });
    try {
      await turn;
    } finally {
      stop();
    }
    throwIfAborted(signal);
  }

  private wake(): void {
    const next = this.waiters.shift();
    if (next) next();
  }

  private settle(): void {
    if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
  }
}

/**
 * Opens a pool of SMTP sessions for sending many messages: the same
 * `sendmessage(tok, options)` as `smtp.sendmessage`, with the connections
 * kept open between messages. The options are sendmessage's (defaults for
 * every message) plus `maxConnections`, `maxMessages` and `idleSecs`. Call
 * `close()` when done: it waits for messages in flight, then QUITs.
 *
 * Tcllib has no pool: each `smtp::sendmessage` opens its own connection.
 * ```tcl
 * foreach tok $messages { smtp::sendmessage $tok -servers {mx1 mx2} }
 * ```
 * ```ts
 * const p = smtp.pool({ servers: ['mx1', 'mx2'], maxConnections: 4 });
 * for (const tok of messages) await p.sendmessage(tok);
 * await p.close();
 * // or as the Tcl words: smtp.pool('-servers', ['mx1', 'mx2'], '-maxConnections', 4)
 * ```
 * @throws OptionError for a bad option, before any connection.
 */
export function pool(options?: PoolOptions & CallOptions): Pool;
export function pool(...flat: TclWords): Pool;
export function pool(...args: unknown[]): Pool {
  const { limits, messageDefaults } = readPoolOptions(parseOptions(COMMAND, POOL_OPTIONS, args));
  return new SessionPool(messageDefaults, limits);
}
