/**
 * A ledger kept in memory: a real implementation of the contract in
 * smtp/bulk/ledger.ts (the same states, the same rule that a final item is
 * never changed), for tests of what reads a ledger, such as the dashboard.
 * Nothing is durable, so it suits tests only.
 */
import { FINAL_STATES, emptyCounts } from '../../smtp/bulk/ledger';
import type { BounceRecord, CampaignCounts, ItemState, Ledger, LedgerItem, OutcomeRecord } from '../../smtp/bulk/ledger';

/** What the contract asks a refused write to be: an error with a stable code, nothing changed. */
export class MemoryLedgerError extends Error {
  readonly code = 'ELEDGER' as const;
}

export class MemoryLedger implements Ledger {
  private readonly records = new Map<string, LedgerItem>();
  private closed = false;

  constructor(
    readonly campaign: string,
    items: Array<{ id: string; recipient: string; state?: ItemState }>,
  ) {
    for (const item of items) {
      this.records.set(item.id, { id: item.id, digest: item.id, state: item.state ?? 'pending', recipient: item.recipient, attempts: 0 });
    }
  }

  private writable(id: string): LedgerItem {
    if (this.closed) throw new MemoryLedgerError('the ledger is closed');
    const item = this.records.get(id);
    if (!item) throw new MemoryLedgerError(`no item ${id} in campaign ${this.campaign}`);
    if (FINAL_STATES.has(item.state)) throw new MemoryLedgerError(`item ${id} is ${item.state} already`);
    return item;
  }

  private stamp(item: LedgerItem, changes: Partial<LedgerItem>): void {
    Object.assign(item, changes, { at: new Date().toISOString() });
  }

  async markSending(id: string): Promise<void> {
    const item = this.writable(id);
    this.stamp(item, { state: 'sending', attempts: (item.attempts ?? 0) + 1 });
  }

  async markDeferred(id: string, detail: { code?: number | null; diagnostic?: string; dueMs?: number }): Promise<void> {
    const item = this.writable(id);
    this.stamp(item, { state: 'deferred', code: detail.code, diagnostic: detail.diagnostic });
  }

  async markOutcome(id: string, outcome: OutcomeRecord): Promise<void> {
    const item = this.writable(id);
    this.stamp(item, { state: outcome.state, code: outcome.code, diagnostic: outcome.diagnostic, ...(outcome.rejected ? { rejected: outcome.rejected } : {}) });
  }

  /** What a crash leaves: every item in `sending` becomes `uncertain`. */
  markCrashed(): void {
    for (const item of this.records.values()) if (item.state === 'sending') this.stamp(item, { state: 'uncertain' });
  }

  /** What the bounce processor records for a `sent` item. */
  markBounced(id: string, bounce: BounceRecord): void {
    const item = this.records.get(id);
    if (!item || item.state !== 'sent') throw new MemoryLedgerError(`item ${id} is not sent`);
    this.stamp(item, { state: 'bounced', bounce });
  }

  /** What an operator's resend does: uncertain items go back to `pending`. */
  releaseUncertain(): number {
    let n = 0;
    for (const item of this.records.values()) {
      if (item.state === 'uncertain') {
        this.stamp(item, { state: 'pending' });
        n += 1;
      }
    }
    return n;
  }

  async lookup(id: string): Promise<LedgerItem | undefined> {
    const item = this.records.get(id);
    return item ? { ...item } : undefined;
  }

  async counts(): Promise<CampaignCounts> {
    const counts = emptyCounts(this.campaign, this.records.size);
    for (const item of this.records.values()) {
      counts[item.state] += 1;
      if (FINAL_STATES.has(item.state)) counts.done += 1;
    }
    return counts;
  }

  async *items(filter?: { states?: readonly ItemState[] }): AsyncIterable<LedgerItem> {
    const states = filter?.states ? new Set(filter.states) : undefined;
    for (const item of this.records.values()) if (!states || states.has(item.state)) yield { ...item };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
