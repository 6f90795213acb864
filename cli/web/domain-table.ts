/**
 * The dashboard's table by recipient domain: every item of the campaign in
 * it, so that its rows add up to the campaign's total. The recorded items
 * give each domain's counts by state; a plan of domains (what a file journal
 * records from the checked list) adds the rows the run has not reached yet,
 * which have no record, as pending. The table stays bounded: the
 * {@link DOMAIN_ROWS} domains with the most items, then one row that sums all
 * the others ("other N domains").
 */
import { byItems, DOMAINS_TRACKED, domainOf } from '../../smtp/bulk/domains';
import type { DomainPlan } from '../../smtp/bulk/domains';
import type { ItemState } from '../../smtp/bulk/ledger';

/** Domains shown one by one. */
export const DOMAIN_ROWS = 20;

type States = Partial<Record<ItemState, number>>;

/** One domain: its items and their counts by state. */
export interface DomainRow {
  domain: string;
  total: number;
  states: States;
}

/** The table as `GET /api/campaign` gives it. */
export interface DomainTable {
  /** At most {@link DOMAIN_ROWS} domains, most items first. */
  rows: DomainRow[];
  /** Every other domain, summed; null when there is none. */
  other: (Omit<DomainRow, 'domain'> & { domains: number; atLeast: boolean }) | null;
  /**
   * Items the ledger has no record of and no plan names the domain of (a
   * journal written before runs recorded their domains): pending, domain unknown.
   */
  unreached: number;
}

function addStates(into: { total: number; states: States }, from: { total: number; states: States }): void {
  into.total += from.total;
  for (const [state, n] of Object.entries(from.states) as Array<[ItemState, number]>) into.states[state] = (into.states[state] ?? 0) + n;
}

/** Counts recorded items by domain and state, in bounded memory. */
export class DomainStates {
  private readonly domains = new Map<string, { total: number; states: States }>();
  /** Items of domains beyond the ones counted one by one. */
  private readonly beyond = { total: 0, states: {} as States };

  constructor(private readonly tracked = DOMAINS_TRACKED) {}

  add(recipient: string | undefined, state: ItemState): void {
    const domain = domainOf(recipient);
    let entry = this.domains.get(domain);
    if (entry === undefined) {
      entry = this.domains.size < this.tracked ? { total: 0, states: {} } : this.beyond;
      if (entry !== this.beyond) this.domains.set(domain, entry);
    }
    entry.total += 1;
    entry.states[state] = (entry.states[state] ?? 0) + 1;
  }

  /**
   * The table for a campaign of `total` items. With a `plan`, each planned
   * domain's items that have no record yet are pending; without one, items
   * with no record are `unreached`.
   */
  table(total: number, plan?: DomainPlan, shown = DOMAIN_ROWS): DomainTable {
    const rows: DomainRow[] = [];
    const other = { total: 0, states: {} as States, domains: 0, atLeast: false };
    let recorded = this.beyond.total;
    for (const entry of this.domains.values()) recorded += entry.total;
    let unreached = 0;
    if (plan) {
      const planned = new Set<string>();
      for (const [domain, items] of plan.top) {
        planned.add(domain);
        const entry = this.domains.get(domain) ?? { total: 0, states: {} };
        const row: DomainRow = { domain, total: 0, states: {} };
        addStates(row, entry);
        if (items > row.total) {
          row.states.pending = (row.states.pending ?? 0) + items - row.total;
          row.total = items;
        }
        rows.push(row);
      }
      // Recorded items of the domains the plan summed, and of any it does not name.
      for (const [domain, entry] of this.domains) if (!planned.has(domain)) addStates(other, entry);
      addStates(other, this.beyond);
      if (plan.rest.items > other.total) {
        other.states.pending = (other.states.pending ?? 0) + plan.rest.items - other.total;
        other.total = plan.rest.items;
      }
      other.domains = plan.rest.domains;
      other.atLeast = plan.rest.atLeast;
    } else {
      for (const [domain, entry] of this.domains) rows.push({ domain, total: entry.total, states: { ...entry.states } });
      if (this.beyond.total > 0) {
        addStates(other, this.beyond);
        other.domains = 1;
        other.atLeast = true;
      }
      unreached = Math.max(0, total - recorded);
    }
    rows.sort((a, b) => byItems([a.domain, a.total], [b.domain, b.total]));
    for (const row of rows.splice(shown)) {
      addStates(other, row);
      other.domains += 1;
    }
    return { rows, other: other.total > 0 || other.domains > 0 ? other : null, unreached };
  }
}
