/**
 * The campaign dashboard: one page for one campaign, read from any
 * {@link Ledger} (the file journal, the Redis fleet): counts by state, the
 * progress, the rate over time and the time left, outcomes by reply code and
 * by recipient domain, the uncertain items and the refused, failed and bounced
 * ones with their diagnostics, pushed live over server-sent events.
 *
 * Read-only unless `actions` are given: then the page offers exactly the
 * actions passed in (resend uncertain, pause, resume), and each is a POST the
 * page makes with a JSON body, which a form on another site cannot forge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OptionError } from '../../lib/errors';
import { FINAL_STATES } from '../../smtp/bulk/ledger';
import type { CampaignCounts, ItemState, Ledger, LedgerItem } from '../../smtp/bulk/ledger';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard-page';
import type { DomainPlan } from '../../smtp/bulk/domains';
import { DomainStates } from './domain-table';
import type { DomainTable } from './domain-table';
import { RateHistory } from './rates';
import type { RatePoint } from './rates';
import { EventHub, PAGE_CSP, isLoopback, newToken, sendBody, sendError, sendJson, startWebServer } from './http';
import type { WebServer } from './http';

/**
 * What the dashboard reads. `domainPlan` is for a ledger that does not list
 * the items it has not reached (a file journal): how many items go to each
 * domain, so that those items are in the table by domain as pending.
 */
export type DashboardLedger = Pick<Ledger, 'counts' | 'items'> & { domainPlan?: () => Promise<DomainPlan | undefined> };

/** What the operator may do from the page; each resolves to a line to show, or nothing. */
export interface DashboardActions {
  /** Send the uncertain items again (they may be delivered twice). */
  resendUncertain?: () => Promise<string | void>;
  pause?: () => Promise<string | void>;
  resume?: () => Promise<string | void>;
}

export interface DashboardOptions {
  /** Interface to listen on. Default 127.0.0.1; anything beyond loopback gets a token. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Only read: counts() every sample, items() (and domainPlan() when there is one) for the breakdowns. */
  ledger: DashboardLedger;
  /** Offered on the page only when given. */
  actions?: DashboardActions;
  /** The token to ask for; `true` makes one. Beyond loopback one is always made when none is given. */
  token?: string | boolean;
  /** How often the counts are read (ms). Default 1000. */
  sampleMs?: number;
  /** How often the items are read for the breakdowns (ms). Default 5000; they are read at once when the counts change after that. */
  detailMs?: number;
}

/** An item with something to say, as the page lists it. */
export interface NotableItem {
  id: string;
  state: ItemState;
  recipient?: string;
  code?: number | null;
  diagnostic?: string;
  at?: string;
}

/** What the page shows; also `GET /api/campaign`. */
export interface DashboardSnapshot {
  campaign: string;
  counts: CampaignCounts;
  /** Final items over all items, 0 to 1. */
  progress: number;
  /** Messages finished per second over the real intervals of the last 15 seconds (0 until one has been seen). */
  rate: number;
  /** Seconds until every item is final at that rate; null when nothing moves or all is done. */
  etaSeconds: number | null;
  /** `[epoch ms, done]` pairs the dashboard kept, oldest first (a read sooner than half `sampleMs` after the last is not kept). */
  samples: Array<[number, number]>;
  /**
   * `[epoch ms, messages per second]` over each interval between two kept
   * samples, in runs: a new run starts where `done` went down (a resend, a
   * new journal) or after a gap with nobody watching. The chart draws one line per run.
   */
  rates: RatePoint[][];
  /** Outcomes by SMTP reply code (`none` when there was no reply). */
  byCode: Record<string, number>;
  /** The 20 recipient domains with the most items (unreached ones included), each with counts by state. */
  byDomain: DomainTable['rows'];
  /** Every other domain summed (`domains` of them; at least that many when `atLeast`), or null. */
  otherDomains: DomainTable['other'];
  /** Pending items whose domain is not known yet (a journal without a plan of domains); 0 otherwise. */
  unreachedItems: number;
  uncertain: NotableItem[];
  /** Refused, failed and bounced items. */
  problems: NotableItem[];
  /** How many uncertain and problem items there are in all (the lists are capped). */
  uncertainTotal: number;
  problemsTotal: number;
  actions: Array<'resendUncertain' | 'pause' | 'resume'>;
  /** The last action's outcome, for every viewer. */
  notice?: string;
  updatedAt: string;
}

const LIST_CAP = 200;
const RATE_WINDOW_MS = 15_000;
const PUBLIC = new Set(['/dashboard.js', '/dashboard.css']);
const ACTION_NAMES = ['resendUncertain', 'pause', 'resume'] as const;
const PROBLEM_STATES: ReadonlySet<ItemState> = new Set<ItemState>(['refused', 'failed', 'bounced']);

interface Breakdown {
  byCode: Record<string, number>;
  byDomain: DashboardSnapshot['byDomain'];
  otherDomains: DashboardSnapshot['otherDomains'];
  unreachedItems: number;
  uncertain: NotableItem[];
  problems: NotableItem[];
  uncertainTotal: number;
  problemsTotal: number;
}

function notable(item: Pick<LedgerItem, 'id' | 'state' | 'recipient' | 'code' | 'diagnostic' | 'at' | 'rejected' | 'bounce'>): NotableItem {
  // A refused recipient's own reply says more than the run's summary of it ("no recipient was accepted").
  const refusal = item.rejected?.find(([address]) => address === item.recipient) ?? item.rejected?.[0];
  const diagnostic = item.bounce ? `bounced ${item.bounce.status}: ${item.bounce.diagnostic}` : refusal ? refusal[2] : item.diagnostic;
  return {
    id: item.id,
    state: item.state,
    ...(item.recipient !== undefined ? { recipient: item.recipient } : {}),
    ...(item.code !== undefined ? { code: item.code } : {}),
    ...(diagnostic !== undefined ? { diagnostic } : {}),
    ...(item.at !== undefined ? { at: item.at } : {}),
  };
}

/** One pass over the items: every breakdown the page shows, for a campaign of `total` items. */
async function breakdown(ledger: DashboardLedger, total: number): Promise<Breakdown> {
  const byCode: Record<string, number> = {};
  const domains = new DomainStates();
  const result: Breakdown = { byCode, byDomain: [], otherDomains: null, unreachedItems: 0, uncertain: [], problems: [], uncertainTotal: 0, problemsTotal: 0 };
  const plan = await ledger.domainPlan?.();
  for await (const item of ledger.items()) {
    if (FINAL_STATES.has(item.state) || item.state === 'deferred') {
      const code = item.code === undefined || item.code === null ? 'none' : String(item.code);
      if (item.state !== 'invalid' && item.state !== 'suppressed' && item.state !== 'uncertain') byCode[code] = (byCode[code] ?? 0) + 1;
    }
    domains.add(item.recipient, item.state);
    if (item.state === 'uncertain') {
      result.uncertainTotal += 1;
      if (result.uncertain.length < LIST_CAP) result.uncertain.push(notable(item));
    } else if (PROBLEM_STATES.has(item.state)) {
      result.problemsTotal += 1;
      if (result.problems.length < LIST_CAP) result.problems.push(notable(item));
    }
  }
  const table = domains.table(total, plan);
  result.byDomain = table.rows;
  result.otherDomains = table.other;
  result.unreachedItems = table.unreached;
  return result;
}

/**
 * Starts the dashboard for `ledger` and resolves once it listens; `close`
 * stops it (the ledger stays open: it is the caller's).
 *
 * ```ts
 * const board = await startDashboard({ port: 8026, ledger });
 * console.log(`dashboard: ${board.url}`);
 * ```
 */
export async function startDashboard(options: DashboardOptions): Promise<WebServer & { snapshot(): Promise<DashboardSnapshot> }> {
  if (options.ledger === undefined || typeof options.ledger.counts !== 'function' || typeof options.ledger.items !== 'function') {
    throw new OptionError('startDashboard', 'ledger', 'the ledger option (a Ledger: counts() and items()) is required');
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new OptionError('startDashboard', 'port', `port expects a whole number from 0 to 65535, not ${String(options.port)}`);
  }
  const host = options.host ?? '127.0.0.1';
  const { ledger } = options;
  const actions = options.actions ?? {};
  const offered = ACTION_NAMES.filter((name) => typeof actions[name] === 'function');
  const token = typeof options.token === 'string' ? options.token : options.token === true || !isLoopback(host) ? newToken() : undefined;
  const sampleMs = options.sampleMs ?? 1000;
  const detailMs = options.detailMs ?? 5000;
  const hub = new EventHub();
  // Half a tick: a read between two ticks (a second viewer, a script) makes no short interval; a gap of ten ticks (30 s at least) is nobody watching.
  const history = new RateHistory(sampleMs / 2, Math.max(10 * sampleMs, 30_000));
  let details: Breakdown | undefined;
  let detailsAt = 0;
  let detailsDone = -1;
  let notice: string | undefined;

  const snapshot = async (): Promise<DashboardSnapshot> => {
    const counts = await ledger.counts();
    const now = Date.now();
    history.record(now, counts.done);
    // Reading every item costs a pass over the ledger: only when the counts moved, and not more often than detailMs.
    if (!details || (counts.done !== detailsDone && now - detailsAt >= detailMs) || (counts.done === counts.total && detailsDone !== counts.done)) {
      details = await breakdown(ledger, counts.total);
      detailsAt = now;
      detailsDone = counts.done;
    }
    const rate = history.rate(RATE_WINDOW_MS);
    const left = counts.total - counts.done;
    return {
      campaign: counts.campaign,
      counts,
      progress: counts.total > 0 ? counts.done / counts.total : 1,
      rate,
      etaSeconds: left > 0 && rate > 0 ? Math.round(left / rate) : null,
      samples: history.samples(),
      rates: history.segments(),
      ...details,
      actions: offered,
      ...(notice !== undefined ? { notice } : {}),
      updatedAt: new Date(now).toISOString(),
    };
  };

  let ticking = false;
  const tick = async (): Promise<void> => {
    if (ticking || hub.size === 0) return;
    ticking = true;
    try {
      // Sent every tick, changed or not: the chart and the rate move with time.
      hub.send('snapshot', await snapshot());
    } catch (error) {
      hub.send('problem', { error: (error as Error).message });
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), sampleMs);
  timer.unref();

  const runAction = async (name: (typeof ACTION_NAMES)[number], response: ServerResponse): Promise<void> => {
    const action = actions[name];
    if (action === undefined) return sendError(response, 404, `the ${name} action is not offered: start the dashboard with it to allow it`);
    try {
      const said = await action();
      notice = typeof said === 'string' && said !== '' ? said : `${name} done`;
    } catch (error) {
      notice = `${name} failed: ${(error as Error).message}`;
      sendJson(response, 500, { error: notice });
      return;
    }
    sendJson(response, 200, { notice });
    void tick();
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    const method = request.method ?? 'GET';
    const path = url.pathname;
    if (method === 'GET' && path === '/') return sendBody(response, 'text/html; charset=utf-8', DASHBOARD_HTML, {}, PAGE_CSP);
    if (method === 'GET' && path === '/dashboard.js') return sendBody(response, 'text/javascript; charset=utf-8', DASHBOARD_JS);
    if (method === 'GET' && path === '/dashboard.css') return sendBody(response, 'text/css; charset=utf-8', DASHBOARD_CSS);
    if (method === 'GET' && path === '/api/campaign') return sendJson(response, 200, await snapshot());
    if (method === 'GET' && path === '/api/events') {
      hub.open(request, response, { event: 'snapshot', data: await snapshot() });
      return;
    }
    const match = /^\/api\/actions\/(resendUncertain|pause|resume)$/.exec(path);
    if (match && method === 'POST') {
      // A form on another site can POST, but not with this content type (that needs CORS, which is never granted).
      if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) return sendError(response, 415, 'actions are POSTed with Content-Type: application/json');
      request.resume();
      return runAction(match[1] as (typeof ACTION_NAMES)[number], response);
    }
    return sendError(response, 404, 'no such page');
  };

  const server = await startWebServer(
    { host, port: options.port },
    {
      ...(token !== undefined ? { token } : {}),
      publicPaths: PUBLIC,
      onClose: () => {
        clearInterval(timer);
        hub.closeAll();
      },
    },
    handle,
  );
  return { ...server, snapshot };
}
