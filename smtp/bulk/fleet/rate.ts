/**
 * A campaign's rate across every worker: a token bucket in Redis (GCRA, see
 * the RESERVE script), on Redis's own clock, holding 5 % of a second's
 * messages, so a pause is followed by a burst well under 10 % of the rate.
 *
 * A message reserves a send time, then waits for it on the local clock
 * (Redis's clock mapped through a measured offset) and writes its end of
 * data then, so Redis's own latency (an fsync on every write) stays out of
 * the spacing; a message that finds itself late past its time (a stall)
 * reserves again instead of going out in a clump with later ones.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CampaignKeys } from './keys';
import type { FleetRedis } from './scripts';

/**
 * The bucket's size for a rate: 5 % of a second's messages, at least 1 —
 * half the 10 % a burst may reach, the other half kept for a message let
 * through up to one interval late (see `pass`) and for the network's jitter,
 * so that no second seen by the server holds more than 110 % of the rate.
 */
export function burstOf(rate: number): number {
  return Math.max(1, Math.floor(rate / 20));
}

/**
 * How late past its reserved time a message may still go out, in ms: one
 * interval at most (and 15 ms at the least), so a late message adds at most
 * one to any window.
 */
function lateness(rate: number): number {
  return Math.max(15, 1000 / rate);
}

/** How often the clock offset is measured again, in ms. */
const RESYNC_MS = 15000;

/** Paces messages by their campaign's bucket; one per worker. @internal */
export class RateGate {
  /** Redis's clock minus ours, in ms. */
  private offset = 0;
  private syncedAt = -Infinity;
  private syncing: Promise<void> | null = null;

  constructor(private readonly redis: FleetRedis) {}

  /** Measures Redis's clock against ours: the reading with the shortest round trip of a few wins. */
  private async sync(): Promise<void> {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const before = performance.now();
      const wall = Date.now();
      const [seconds, micros] = (await this.redis.time()) as unknown as [string, string];
      const rtt = performance.now() - before;
      if (rtt < best) {
        best = rtt;
        this.offset = Number(seconds) * 1000 + Number(micros) / 1000 - (wall + rtt / 2);
      }
    }
    this.syncedAt = Date.now();
  }

  private async clock(): Promise<void> {
    if (Date.now() - this.syncedAt < RESYNC_MS) return;
    this.syncing ??= this.sync().finally(() => (this.syncing = null));
    await this.syncing;
  }

  /** Reserves a send time; resolves to it on the local clock (ms since the epoch). */
  async reserve(keys: CampaignKeys, rate: number): Promise<number> {
    await this.clock();
    const slot = Number(await this.redis.tclmailReserve(keys.bucket, String(rate), String(burstOf(rate))));
    return slot - this.offset;
  }

  /**
   * Waits for a reserved time (`slot`, from {@link reserve}); reserves again
   * while the wait ends too late. Resolves when the message may go.
   */
  async pass(keys: CampaignKeys, rate: number, slot: number): Promise<void> {
    let at = slot;
    for (;;) {
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      if (Date.now() <= at + lateness(rate)) return;
      at = await this.reserve(keys, rate);
    }
  }
}
