/**
 * The counting behind the table by domain, in bounded memory: the plan a run
 * records (smtp/bulk/domains.ts) and the table the dashboard makes of it and
 * of the recorded items (cli/web/domain-table.ts), with the limits made small
 * so that the domains beyond them are exercised; and a manifest line with a
 * damaged plan is refused, naming it.
 */
import { DomainStates } from '../../../cli/web/domain-table';
import { DomainTally, domainOf } from '../../../smtp/bulk/domains';
import { parseJournalLine } from '../../../smtp/bulk/journal-lines';

describe('domains of a campaign, counted in bounded memory', () => {
  it('groups by the lower-cased part after the last @', () => {
    expect(domainOf('Ann@Example.COM')).toBe('example.com');
    expect(domainOf('"a@b"@example.net')).toBe('example.net');
    expect(domainOf('')).toBe('(none)');
    expect(domainOf(undefined)).toBe('(none)');
  });

  it('plans the domains with the most items and sums the rest, at least that many once past the tracked count', () => {
    const tally = new DomainTally(3);
    for (const [domain, n] of [['a.test', 5], ['b.test', 1], ['c.test', 3], ['d.test', 4], ['e.test', 2]] as const) for (let i = 0; i < n; i++) tally.add(`u${i}@${domain}`);
    // a, b and c are tracked; d and e come after the third domain and are summed unnamed.
    expect(tally.plan(2)).toEqual({ top: [['a.test', 5], ['c.test', 3]], rest: { items: 1 + 4 + 2, domains: 2, atLeast: true } });
    const exact = new DomainTally();
    for (const recipient of ['x@a.test', 'y@a.test', 'z@b.test']) exact.add(recipient);
    expect(exact.plan(1)).toEqual({ top: [['a.test', 2]], rest: { items: 1, domains: 1, atLeast: false } });
  });

  it('makes a table that adds up: planned rows with their unreached items pending, 20 rows at most, the rest in one row', () => {
    const states = new DomainStates();
    states.add('u1@a.test', 'sent');
    states.add('u2@a.test', 'refused');
    states.add('u3@z.test', 'sent');
    const plan = { top: [['a.test', 4], ['b.test', 3]] as Array<[string, number]>, rest: { items: 2, domains: 2, atLeast: false } };
    expect(states.table(9, plan)).toEqual({
      rows: [
        { domain: 'a.test', total: 4, states: { sent: 1, refused: 1, pending: 2 } },
        { domain: 'b.test', total: 3, states: { pending: 3 } },
      ],
      other: { domains: 2, atLeast: false, total: 2, states: { sent: 1, pending: 1 } },
      unreached: 0,
    });
    // Shown one row: b.test joins the other row.
    expect(states.table(9, plan, 1).other).toEqual({ domains: 3, atLeast: false, total: 5, states: { sent: 1, pending: 4 } });
    // Without a plan the items with no record are one row of their own.
    expect(states.table(9)).toEqual({
      rows: [
        { domain: 'a.test', total: 2, states: { sent: 1, refused: 1 } },
        { domain: 'z.test', total: 1, states: { sent: 1 } },
      ],
      other: null,
      unreached: 6,
    });
  });

  it('sums recorded items of domains beyond the tracked count in the other row', () => {
    const states = new DomainStates(2);
    for (const recipient of ['a@a.test', 'b@b.test', 'c@c.test', 'd@d.test', 'e@a.test']) states.add(recipient, 'pending');
    const table = states.table(5);
    expect(table.rows.map((row) => [row.domain, row.total])).toEqual([['a.test', 2], ['b.test', 1]]);
    expect(table.other).toEqual({ domains: 1, atLeast: true, total: 2, states: { pending: 2 } });
    expect(table.unreached).toBe(0);
  });

  it('refuses a manifest line whose plan of domains is damaged', () => {
    const line = (domains: unknown) => JSON.stringify({ type: 'manifest', campaign: 'c', listDigest: '', total: 1, createdAt: '2026-12-07T00:00:00Z', at: '2026-12-07T00:00:00Z', domains });
    expect(parseJournalLine(line({ top: [['a.test', 1]], rest: { items: 0, domains: 0, atLeast: false } }))).toMatchObject({ kind: 'manifest', manifest: { domains: { top: [['a.test', 1]] } } });
    expect(parseJournalLine(line({ top: [['a.test', -1]], rest: { items: 0, domains: 0, atLeast: false } }))).toBe('a manifest whose domains.top must be [domain, items] pairs');
    expect(parseJournalLine(line({ top: [], rest: { items: 0 } }))).toBe('a manifest whose domains.rest must be { items, domains, atLeast }');
  });
});
