/**
 * Recipient domains of a campaign, counted in bounded memory: the plan a
 * `tclmail bulk` run records in its journal's manifest when it has checked
 * the list, so that a reader (the dashboard) knows every domain the
 * campaign will reach, including those whose rows the run has not reached
 * yet and which therefore have no line in the journal.
 *
 * At most {@link DOMAINS_TRACKED} distinct domains are counted one by one;
 * items of any further domain are counted together. The plan keeps the
 * {@link DOMAIN_PLAN_SIZE} domains with the most items and sums the rest.
 */

/** Distinct domains counted one by one (about 100 bytes each). */
export const DOMAINS_TRACKED = 100_000;

/** Domains the plan names one by one; the rest are summed. */
export const DOMAIN_PLAN_SIZE = 50;

/** How many items go to which recipient domain. */
export interface DomainPlan {
  /** `[domain, items]`, most items first (ties by name). */
  top: Array<[string, number]>;
  /** Everything not in `top`. */
  rest: {
    items: number;
    /** How many domains `items` spans. */
    domains: number;
    /** True when some of them were beyond the count kept one by one: `domains` is then a lower bound. */
    atLeast: boolean;
  };
}

/** The domain of a recipient as the dashboard groups it: after the last `@`, lower case; `(none)` without one. */
export function domainOf(recipient: string | undefined): string {
  const at = recipient?.lastIndexOf('@') ?? -1;
  return at >= 0 ? recipient!.slice(at + 1).toLowerCase() : '(none)';
}

/** Orders `[domain, items]` pairs most items first, then by name. */
export function byItems(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/** Counts items by recipient domain, in bounded memory. */
export class DomainTally {
  private readonly counts = new Map<string, number>();
  private beyondItems = 0;

  constructor(private readonly tracked = DOMAINS_TRACKED) {}

  add(recipient: string | undefined): void {
    const domain = domainOf(recipient);
    const known = this.counts.get(domain);
    if (known !== undefined) this.counts.set(domain, known + 1);
    else if (this.counts.size < this.tracked) this.counts.set(domain, 1);
    else this.beyondItems += 1;
  }

  /** The plan: the `size` domains with the most items, and the rest summed. */
  plan(size = DOMAIN_PLAN_SIZE): DomainPlan {
    const sorted = [...this.counts].sort(byItems);
    const top = sorted.slice(0, size);
    let items = this.beyondItems;
    for (let i = size; i < sorted.length; i++) items += sorted[i][1];
    const beyond = this.beyondItems > 0;
    return { top, rest: { items, domains: Math.max(0, sorted.length - size) + (beyond ? 1 : 0), atLeast: beyond } };
  }
}

/** Why `value` is not a domain plan, or undefined when it is one. */
export function domainPlanProblem(value: unknown): string | undefined {
  const count = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  if (typeof value !== 'object' || value === null) return 'domains must be an object';
  const plan = value as Partial<DomainPlan>;
  if (!Array.isArray(plan.top) || !plan.top.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && count(pair[1]))) {
    return 'domains.top must be [domain, items] pairs';
  }
  const rest = plan.rest;
  if (typeof rest !== 'object' || rest === null || !count(rest.items) || !count(rest.domains) || typeof rest.atLeast !== 'boolean') {
    return 'domains.rest must be { items, domains, atLeast }';
  }
  return undefined;
}
