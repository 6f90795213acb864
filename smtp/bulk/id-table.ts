/**
 * A compact set of item ids for lists and journals of millions of lines: an
 * open-addressing table (linear probing) keyed by a 64-bit hash of the id,
 * its columns in typed arrays, so that an item costs 12 to 18 bytes and no
 * string is kept. The table is split into 256 shards that grow one at a time
 * (by half), so growing never holds two copies of the whole table, and a
 * shard's size is not held to a power of two, so the load stays near 0.7.
 *
 * A 64-bit id hash stands for the id. Two ids of one campaign sharing it is a
 * one-in-10^6 event for 5,000,000 ids; whoever can re-read the line or row an
 * entry came from verifies a hit that matters (the journal does, see journal.ts).
 */

const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const MAX_LOAD = 0.85;
const MIN_CAPACITY = 61;

/** Which optional columns a table keeps besides the id hash and the digest key. */
export interface IdTableColumns {
  /** A 32-bit key of the item's digest per entry (default true). */
  digest?: boolean;
  /** A 32-bit number per entry (a row number, the low bits of a file offset). */
  aux?: boolean;
  /** 16 bits per entry (a state and flags, the high bits of an offset). */
  meta?: boolean;
  /** 8 bits of flags per entry. */
  flags?: boolean;
}

interface Shard {
  capacity: number;
  count: number;
  h1: Uint32Array;
  h2: Uint32Array;
  dig: Uint32Array | null;
  aux: Uint32Array | null;
  meta: Uint16Array | null;
  flags: Uint8Array | null;
}

function fnv(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Murmur3's finaliser: every input bit reaches every output bit.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The two 32-bit halves of an id's 64-bit hash (never both 0: that marks an empty slot). */
export function idHash(id: string): [number, number] {
  const h1 = fnv(id, 0x9e3779b9);
  const h2 = fnv(id, 0x7f4a7c15);
  return [h1, h1 === 0 && h2 === 0 ? 1 : h2];
}

/** A 32-bit key of a digest, to tell a changed item from the same one without keeping the digest. */
export function digestKey(digest: string): number {
  return fnv(digest, 0x2545f491);
}

/** A handle on one entry: shard and slot, valid until the next insert into the table. */
export type Entry = number;

export class IdTable {
  private readonly shards: Shard[] = [];
  private entries = 0;

  constructor(
    private readonly columns: IdTableColumns = {},
    /** How many entries are expected: sizes the shards so that few of them grow. */
    expected = 0,
  ) {
    const capacity = Math.max(MIN_CAPACITY, Math.ceil(expected / SHARDS / 0.8));
    for (let i = 0; i < SHARDS; i++) this.shards.push(this.makeShard(capacity));
  }

  /** How many entries the table holds. */
  get size(): number {
    return this.entries;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    let perSlot = 8;
    if (this.columns.digest !== false) perSlot += 4;
    if (this.columns.aux) perSlot += 4;
    if (this.columns.meta) perSlot += 2;
    if (this.columns.flags) perSlot += 1;
    return this.shards.reduce((sum, s) => sum + s.capacity * perSlot, 0);
  }

  private makeShard(capacity: number): Shard {
    return {
      capacity,
      count: 0,
      h1: new Uint32Array(capacity),
      h2: new Uint32Array(capacity),
      dig: this.columns.digest !== false ? new Uint32Array(capacity) : null,
      aux: this.columns.aux ? new Uint32Array(capacity) : null,
      meta: this.columns.meta ? new Uint16Array(capacity) : null,
      flags: this.columns.flags ? new Uint8Array(capacity) : null,
    };
  }

  /** The entry of a hash, or -1. */
  find(h1: number, h2: number): Entry {
    const shardIndex = h1 >>> (32 - SHARD_BITS);
    const shard = this.shards[shardIndex];
    const capacity = shard.capacity;
    for (let i = h2 % capacity; ; i = i + 1 === capacity ? 0 : i + 1) {
      if ((shard.h1[i] | shard.h2[i]) === 0) return -1;
      if (shard.h1[i] === h1 && shard.h2[i] === h2) return shardIndex * 2 ** 32 + i;
    }
  }

  /** The entry of a hash, made (zeroed) when missing; `created` tells which. */
  insert(h1: number, h2: number): { entry: Entry; created: boolean } {
    const shardIndex = h1 >>> (32 - SHARD_BITS);
    let shard = this.shards[shardIndex];
    if ((shard.count + 1) > shard.capacity * MAX_LOAD) shard = this.grow(shardIndex);
    const capacity = shard.capacity;
    for (let i = h2 % capacity; ; i = i + 1 === capacity ? 0 : i + 1) {
      if ((shard.h1[i] | shard.h2[i]) === 0) {
        shard.h1[i] = h1;
        shard.h2[i] = h2;
        shard.count++;
        this.entries++;
        return { entry: shardIndex * 2 ** 32 + i, created: true };
      }
      if (shard.h1[i] === h1 && shard.h2[i] === h2) return { entry: shardIndex * 2 ** 32 + i, created: false };
    }
  }

  private grow(shardIndex: number): Shard {
    const old = this.shards[shardIndex];
    const next = this.makeShard(Math.ceil(old.capacity * 1.5));
    const capacity = next.capacity;
    for (let i = 0; i < old.capacity; i++) {
      if ((old.h1[i] | old.h2[i]) === 0) continue;
      let j = old.h2[i] % capacity;
      while ((next.h1[j] | next.h2[j]) !== 0) j = j + 1 === capacity ? 0 : j + 1;
      next.h1[j] = old.h1[i];
      next.h2[j] = old.h2[i];
      if (next.dig) next.dig[j] = old.dig![i];
      if (next.aux) next.aux[j] = old.aux![i];
      if (next.meta) next.meta[j] = old.meta![i];
      if (next.flags) next.flags[j] = old.flags![i];
    }
    next.count = old.count;
    this.shards[shardIndex] = next;
    return next;
  }

  private at(entry: Entry): [Shard, number] {
    return [this.shards[Math.floor(entry / 2 ** 32)], entry % 2 ** 32];
  }

  digest(entry: Entry): number {
    const [s, i] = this.at(entry);
    return s.dig![i];
  }

  setDigest(entry: Entry, key: number): void {
    const [s, i] = this.at(entry);
    s.dig![i] = key;
  }

  flags(entry: Entry): number {
    const [s, i] = this.at(entry);
    return s.flags![i];
  }

  setFlags(entry: Entry, value: number): void {
    const [s, i] = this.at(entry);
    s.flags![i] = value;
  }

  /** Clears every entry's flags (a mark for one pass over a list). */
  clearFlags(): void {
    for (const s of this.shards) s.flags!.fill(0);
  }

  aux(entry: Entry): number {
    const [s, i] = this.at(entry);
    return s.aux![i];
  }

  setAux(entry: Entry, value: number): void {
    const [s, i] = this.at(entry);
    s.aux![i] = value;
  }

  meta(entry: Entry): number {
    const [s, i] = this.at(entry);
    return s.meta![i];
  }

  setMeta(entry: Entry, value: number): void {
    const [s, i] = this.at(entry);
    s.meta![i] = value;
  }

  /** Calls `each` with the meta column of every entry (for counts by state). */
  forEachMeta(each: (meta: number) => void): void {
    for (const s of this.shards) {
      for (let i = 0; i < s.capacity; i++) if ((s.h1[i] | s.h2[i]) !== 0) each(s.meta![i]);
    }
  }
}
