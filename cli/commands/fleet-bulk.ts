/**
 * The fleet side of `tclmail bulk`: with `--redis` (or `--redis-file`, or
 * TCLMAIL_REDIS_URL with a fleet flag) the command does not send. It
 * validates the list as a local run does, stores the campaign in Redis (the
 * template with its attachments' bytes, each row's values) and enqueues it
 * for `tclmail worker`s, idempotently; or it shows and steers a campaign
 * that is already there (--status, --pause, --resume, --cancel,
 * --resend-uncertain, --purge).
 */
import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ITEM_STATES } from '../../smtp/bulk/ledger';
import type { CampaignCounts } from '../../smtp/bulk/ledger';
import { EXIT, integerFlag, line, parseFlags, printable, stringFlag, UsageError } from '../args';
import type { Flags, Io } from '../args';
import { csvLine, reportCell } from '../csv';
import { openFleet } from '../../smtp/bulk/fleet';
import type { Fleet } from '../../smtp/bulk/fleet';
import { CLIENT } from '../../smtp/bulk/fleet/connection';
import { REDIS_FLAGS, redisTarget } from '../redis-url';
import { BOUNCE_FLAGS } from '../bulk-bounce';
import { enqueueList } from '../fleet-enqueue';
import { fleetActions, serveDashboard, WEB_FLAGS, webRequest } from '../bulk-web';

/** Exit status for a list or a campaign that does not match what is stored (sysexits' EX_DATAERR). */
const DATA_ERROR = 65;

export const FLEET_HELP = `Fleet (BullMQ + Redis; see docs/fleet.md):
  tclmail bulk TEMPLATE LIST --redis URL --campaign NAME [--rate R]
        validate the list, store the campaign and enqueue it for
        'tclmail worker's; running it again adds nothing, a changed item
        is refused (exit 65) unless --accept-changed
  tclmail bulk --status NAME --redis URL [--json] [--follow] [--report FILE]
  tclmail bulk --status NAME --redis URL --web [HOST:]PORT [--web-token]
        [--allow-actions]   the dashboard in a browser (see above)
  tclmail bulk --pause NAME | --resume NAME | --cancel NAME --redis URL
  tclmail bulk --resend-uncertain NAME --redis URL   (lists what it resends)
  tclmail bulk --purge NAME --redis URL              (deletes the campaign)
  --redis URL           redis://HOST:PORT[/DB] or rediss:// (TLS); a URL
                        with a password only from --redis-file FILE or
                        TCLMAIL_REDIS_URL, never from the flag
  --rate R              messages per second for the campaign, across all
                        workers (default: no limit)
  --retain-days N       keep a finished campaign N days, then let Redis
                        drop it (default 7; 0 keeps it until --purge)
  --accept-changed      record the new meaning of changed items
  --verp TEMPLATE       stored with the campaign: workers send each item
                        from its VERP address (and its id as the DSN ENVID)
  --suppress FILE       items whose address is listed are stored
                        "suppressed" (never sent); workers also check the
                        suppression set in Redis at send time
  --unsubscribe URL     stored with the campaign; the secret is not: start
                        the workers with --unsubscribe-secret-file FILE
                        (given here too, the file is only checked)
`;

const FLAGS = {
  ...REDIS_FLAGS,
  campaign: { type: 'string' },
  rate: { type: 'string' },
  'retain-days': { type: 'string' },
  'accept-changed': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' },
  'allow-empty': { type: 'boolean' },
  originator: { type: 'string' },
  status: { type: 'string' },
  json: { type: 'boolean' },
  follow: { type: 'boolean' },
  report: { type: 'string' },
  pause: { type: 'string' },
  resume: { type: 'string' },
  cancel: { type: 'string' },
  'resend-uncertain': { type: 'string' },
  purge: { type: 'string' },
  progress: { type: 'string' },
  ...BOUNCE_FLAGS,
  ...WEB_FLAGS,
} as const;

/** Flags that only the fleet has: one of them on the command line means the fleet path. */
const FLEET_ONLY = new Set(['--redis', '--redis-file', '--pause', '--resume', '--cancel', '--purge', '--retain-days']);

/**
 * True when `tclmail bulk` is asked for the fleet: a fleet-only flag; or,
 * without `--journal` (which names a local run's journal) or `--dry-run`,
 * `--status` or `--resend-uncertain`, or `--campaign` while TCLMAIL_REDIS_URL
 * names a Redis.
 */
export function isFleetBulk(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const names = argv.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]);
  if (names.some((n) => FLEET_ONLY.has(n))) return true;
  if (names.includes('--journal') || names.includes('--dry-run')) return false;
  if (names.includes('--status') || names.includes('--resend-uncertain')) return true;
  return names.includes('--campaign') && env.TCLMAIL_REDIS_URL !== undefined && env.TCLMAIL_REDIS_URL !== '';
}

const ACTIONS = ['status', 'pause', 'resume', 'cancel', 'resend-uncertain', 'purge'] as const;
type Action = (typeof ACTIONS)[number] | 'enqueue';

function action(flags: Flags, args: string[]): { action: Action; campaign: string } {
  const given = ACTIONS.filter((name) => flags[name] !== undefined);
  if (given.length > 1) throw new UsageError(`--${given[0]} and --${given[1]} cannot be combined: one action at a time`);
  if (given.length === 1) {
    if (args.length > 0) throw new UsageError(`--${given[0]} takes a campaign name, not a template and a list`);
    const campaign = stringFlag(flags, given[0])!;
    if (campaign === '') throw new UsageError(`--${given[0]} expects a campaign name`);
    return { action: given[0], campaign };
  }
  if (args.length < 2) throw new UsageError('expected a template and a list: tclmail bulk TEMPLATE LIST --redis URL --campaign NAME');
  const campaign = stringFlag(flags, 'campaign');
  if (campaign === undefined || campaign === '') throw new UsageError('enqueuing to Redis needs --campaign NAME: the name workers, --status and a second run know the campaign by');
  return { action: 'enqueue', campaign };
}

function positive(flags: Flags, name: string): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} expects a positive number, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** Flags that only make sense with one action. */
function checkCombinations(flags: Flags, act: Action): void {
  const only: Array<[string, Action[]]> = [
    ['json', ['status']],
    ['follow', ['status']],
    ['report', ['status']],
    ['web', ['status']],
    ['web-token', ['status']],
    ['allow-actions', ['status']],
    ['rate', ['enqueue']],
    ['retain-days', ['enqueue']],
    ['accept-changed', ['enqueue']],
    ['skip-invalid', ['enqueue']],
    ['allow-empty', ['enqueue']],
    ['originator', ['enqueue']],
    ['progress', ['enqueue']],
    ['verp', ['enqueue']],
    ['suppress', ['enqueue']],
    ['unsubscribe', ['enqueue']],
    ['unsubscribe-secret-file', ['enqueue']],
  ];
  for (const [flag, actions] of only) {
    if (flags[flag] !== undefined && !actions.includes(act)) throw new UsageError(`--${flag} goes with ${actions.map((a) => (a === 'enqueue' ? 'enqueuing (TEMPLATE LIST --campaign NAME)' : `--${a}`)).join(' or ')}`);
  }
  if (flags.campaign !== undefined && act !== 'enqueue') throw new UsageError(`--campaign names the campaign to enqueue; --${act} takes the name itself`);
}

const BAR_WIDTH = 24;

function summary(c: CampaignCounts): string {
  const shown = ITEM_STATES.filter((state) => c[state] > 0 || state === 'pending' || state === 'sent').map((state) => `${state} ${c[state]}`);
  return `${c.done}/${c.total} done: ${shown.join(', ')}`;
}

function bar(c: CampaignCounts): string {
  const filled = c.total === 0 ? BAR_WIDTH : Math.round((c.done / c.total) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${summary(c)}`;
}

/** The exit status a finished campaign earns, as a local run's: 0 all sent, 3 some uncertain, 1 some not sent, 2 none sent. */
function outcomeStatus(c: CampaignCounts): number {
  if (c.uncertain > 0) return EXIT.UNCERTAIN;
  const settled = c.sent + c.bounced;
  if (settled === c.total - c.invalid - c.suppressed && c.invalid === 0) return EXIT.OK;
  return settled === 0 ? EXIT.FAILED : EXIT.SOME_REFUSED;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function status(fleet: Fleet, campaign: string, flags: Flags, io: Io): Promise<number> {
  const json = flags.json === true;
  const follow = flags.follow === true;
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let counts = await fleet.status(campaign);
  if (follow) {
    let stopped = false;
    const stop = (): void => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    try {
      for (;;) {
        if (json) line(io.stdout, JSON.stringify(counts));
        else if (tty) io.stderr.write(`\r${bar(counts)}\x1b[K`);
        else line(io.stderr, `progress: ${summary(counts)}`);
        if (counts.done >= counts.total || stopped || (await fleet.campaign(campaign)).status === 'cancelled') break;
        await sleep(1000);
        counts = await fleet.status(campaign);
      }
    } finally {
      process.off('SIGINT', stop);
    }
    if (!json && tty) io.stderr.write('\n');
  }
  if (!(json && follow)) {
    if (json) line(io.stdout, JSON.stringify(counts));
    else line(io.stdout, `campaign ${campaign} (${(await fleet.campaign(campaign)).status}): ${summary(counts)}`);
  }
  const report = stringFlag(flags, 'report');
  if (report !== undefined) await writeReport(fleet, campaign, report);
  return follow ? outcomeStatus(counts) : EXIT.OK;
}

async function writeReport(fleet: Fleet, campaign: string, path: string): Promise<void> {
  const rows = [csvLine(['id', 'recipient', 'status', 'code', 'diagnostic'])];
  for await (const item of fleet.items(campaign)) {
    rows.push(csvLine([item.id, item.recipient ?? '', item.state, item.code === undefined || item.code === null ? '' : String(item.code), item.diagnostic ?? ''].map(reportCell)));
  }
  writeFileSync(path, rows.join(''));
}

function listed(out: Writable, what: string, items: ReadonlyArray<{ id: string; recipient?: string }>): void {
  for (const item of items) line(out, printable(`${what} ${item.id} ${item.recipient ?? '-'}`));
}

/** How long a command waits for Redis to answer at all (a worker waits for ever; a command does not). */
const CONNECT_TIMEOUT_MS = 15_000;

/** Resolves once Redis answers; rejects naming the Redis (without its password) when it does not in time. */
async function reachable(fleet: Fleet, shown: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis at ${shown} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s; is it running, and is the URL right?`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([fleet[CLIENT].ping(), late]);
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(/WRONGPASS|NOAUTH|NOPERM/.test(message) ? `Redis at ${shown} refused the credentials: ${message}` : message);
  } finally {
    clearTimeout(timer);
  }
}

/** `tclmail bulk` on the fleet; resolves to the exit status. */
export async function fleetBulk(argv: string[], io: Io): Promise<number> {
  const { flags, args } = parseFlags(argv, FLAGS, { min: 0, max: 2 });
  const { action: act, campaign } = action(flags, args);
  checkCombinations(flags, act);
  const target = redisTarget(flags, io);
  const rate = positive(flags, 'rate');
  const retainDays = integerFlag(flags, 'retain-days', 0, 3650);

  const fleet = await openFleet(target.url);
  try {
    await reachable(fleet, target.shown);
    switch (act) {
      case 'enqueue': {
        const result = await enqueueList(fleet, { templatePath: args[0], listPath: args[1], campaign, flags, io, rate, retainDays: retainDays ?? 7 });
        return result;
      }
      case 'status': {
        const web = webRequest(flags);
        if (web === undefined) return await status(fleet, campaign, flags, io);
        await fleet.status(campaign); // a campaign that is not there is refused before the page starts
        return await serveDashboard(fleet.ledger(campaign, ''), web, web.allowActions ? fleetActions(fleet, campaign) : undefined, io);
      }
      case 'pause':
        await fleet.pause(campaign);
        line(io.stderr, `campaign ${campaign}: paused; workers finish the messages in flight and start no more until --resume`);
        return EXIT.OK;
      case 'resume':
        await fleet.resume(campaign);
        line(io.stderr, `campaign ${campaign}: resumed`);
        return EXIT.OK;
      case 'cancel': {
        await fleet.cancel(campaign);
        const left = await fleet.status(campaign);
        line(io.stderr, `campaign ${campaign}: cancelled; the ${left.pending + left.deferred} item(s) not sent yet will not be`);
        return EXIT.OK;
      }
      case 'resend-uncertain': {
        const ids = await fleet.resendUncertain(campaign);
        const items = [];
        for (const id of ids) items.push((await fleet.item(campaign, id)) ?? { id });
        listed(io.stdout, 'resend', items);
        line(io.stderr, `campaign ${campaign}: ${items.length} uncertain item(s) queued again; they may arrive twice`);
        return EXIT.OK;
      }
      case 'purge': {
        const deleted = await fleet.purge(campaign);
        line(io.stderr, `campaign ${campaign}: purged (${deleted} key(s) deleted)`);
        return EXIT.OK;
      }
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ECHANGED' || code === 'EINVALIDLIST') {
      line(io.stderr, `tclmail bulk: ${(error as Error).message}`);
      return DATA_ERROR;
    }
    if (code === 'ECAMPAIGN') throw new UsageError((error as Error).message);
    throw error;
  } finally {
    await fleet.close();
  }
}

