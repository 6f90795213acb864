/**
 * `tclmail bulk --status NAME ... --web [HOST:]PORT`: the campaign dashboard
 * (cli/web/dashboard.ts) for a file journal or a campaign in Redis, served
 * until SIGINT or SIGTERM. Read-only unless `--allow-actions`; then the page
 * offers only what the ledger can really do (see {@link fleetActions}: a file
 * journal has none, it is written by its own `tclmail bulk` run alone).
 */
import { stat } from 'node:fs/promises';
import type { CampaignCounts, ItemState, Ledger, LedgerItem } from '../smtp/bulk/ledger';
import { FileLedger } from '../smtp/bulk/journal';
import type { Fleet } from '../smtp/bulk/fleet';
import { EXIT, line, stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import { startDashboard } from './web/dashboard';
import type { DashboardActions, DashboardLedger } from './web/dashboard';
import type { DomainPlan } from '../smtp/bulk/domains';
import { parseListen } from './web/http';
import type { Listen } from './web/http';

/** The flags of the dashboard, for both `tclmail bulk` flag sets. */
export const WEB_FLAGS = {
  web: { type: 'string' },
  'web-token': { type: 'boolean' },
  'allow-actions': { type: 'boolean' },
} as const;

export const WEB_HELP = `  --web [HOST:]PORT      with --status: serve the campaign's dashboard in a
                         browser (127.0.0.1 unless HOST says otherwise) until
                         Ctrl-C; prints "dashboard: URL"
  --web-token            ask for a token even on loopback (always asked for
                         beyond loopback); the printed URL carries it
  --allow-actions        with --web and --redis: offer resend uncertain,
                         pause and resume on the page (read-only without it)
`;

/** What `--web` asks for, or undefined without it. */
export interface WebRequest {
  listen: Listen;
  token: boolean;
  allowActions: boolean;
}

/**
 * Reads `--web`, `--web-token` and `--allow-actions`; the last two without
 * `--web`, or `--web` beside flags that print to the terminal, are usage errors.
 */
export function webRequest(flags: Flags): WebRequest | undefined {
  const text = stringFlag(flags, 'web');
  if (text === undefined) {
    if (flags['web-token'] === true || flags['allow-actions'] === true) throw new UsageError('--web-token and --allow-actions go with --status NAME --web [HOST:]PORT');
    return undefined;
  }
  if (flags.status === undefined) throw new UsageError('--web serves the dashboard of a campaign: use it with --status NAME');
  const terminal = (['json', 'follow', 'report'] as const).find((name) => flags[name] !== undefined);
  if (terminal !== undefined) throw new UsageError(`--${terminal} prints to the terminal; --web serves the page instead: use one or the other`);
  return { listen: parseListen('web', text), token: flags['web-token'] === true, allowActions: flags['allow-actions'] === true };
}

/** The actions a fleet campaign really has: resending its uncertain items, pausing and resuming it. */
export function fleetActions(fleet: Fleet, campaign: string): DashboardActions {
  return {
    resendUncertain: async () => {
      const ids = await fleet.resendUncertain(campaign);
      return ids.length === 0 ? 'no item is uncertain: nothing was sent again' : `${ids.length} uncertain item(s) queued again (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}); they may arrive twice`;
    },
    pause: async () => {
      await fleet.pause(campaign);
      return `campaign ${campaign}: paused; workers finish the messages in flight and start no more until resumed`;
    },
    resume: async () => {
      await fleet.resume(campaign);
      return `campaign ${campaign}: resumed`;
    },
  };
}

/** What identifies one state of a file: a writer appends (size, mtime) or replaces it (inode). */
async function fileKey(path: string): Promise<string> {
  const info = await stat(path, { bigint: true });
  return `${info.ino}:${info.size}:${info.mtimeNs}`;
}

/**
 * A file journal as the dashboard reads it while a `tclmail bulk` run writes
 * it: each look opens it read-only again when it changed (no lock is taken,
 * a torn last line is skipped), so the page follows the run. The sidecar
 * `<journal>.bounces` is read by the file ledger on every look.
 */
export class JournalView implements Pick<Ledger, 'campaign' | 'counts' | 'items' | 'close'> {
  private current: FileLedger;
  private key: string;
  private reopening: Promise<FileLedger> | null = null;

  private constructor(
    private readonly file: string,
    first: FileLedger,
    key: string,
  ) {
    this.current = first;
    this.key = key;
  }

  /** Opens the journal once, to know it is there and which campaign it holds. */
  static async open(file: string): Promise<JournalView> {
    const key = await fileKey(file);
    return new JournalView(file, await FileLedger.openReadOnly(file), key);
  }

  get campaign(): string {
    return this.current.campaign;
  }

  /** The journal as it is now: the last one opened, or a new look when the file changed. */
  private async fresh(): Promise<FileLedger> {
    if (this.reopening) return this.reopening;
    const key = await fileKey(this.file);
    if (key === this.key) return this.current;
    this.reopening = FileLedger.openReadOnly(this.file).then(
      async (next) => {
        const old = this.current;
        this.current = next;
        this.key = key;
        this.reopening = null;
        await old.close();
        return next;
      },
      (error: unknown) => {
        this.reopening = null;
        throw error;
      },
    );
    return this.reopening;
  }

  async counts(): Promise<CampaignCounts> {
    return (await this.fresh()).counts();
  }

  /**
   * How many items go to each domain, as the run recorded it from the checked
   * list: rows it has not reached have no line, and this is how the page
   * knows their domains. Undefined for a journal begun before runs recorded it.
   */
  async domainPlan(): Promise<DomainPlan | undefined> {
    return (await this.fresh()).manifest.domains;
  }

  /** Every recorded item, from a look of its own (closed after), so that a reopen for counts cannot cut it short. */
  async *items(filter?: { states?: readonly ItemState[] }): AsyncIterable<LedgerItem> {
    const look = await FileLedger.openReadOnly(this.file);
    try {
      yield* look.items(filter);
    } finally {
      await look.close();
    }
  }

  async close(): Promise<void> {
    await this.reopening?.catch(() => undefined);
    await this.current.close();
  }
}

/**
 * Serves the dashboard of `ledger` and waits for SIGINT or SIGTERM; then
 * closes the page (the ledger is the caller's). Resolves to the exit status.
 */
export async function serveDashboard(ledger: DashboardLedger, request: WebRequest, actions: DashboardActions | undefined, io: Io): Promise<number> {
  let board;
  try {
    board = await startDashboard({ host: request.listen.host, port: request.listen.port, ledger, token: request.token || undefined, ...(actions ? { actions } : {}) });
  } catch (error) {
    line(io.stderr, `tclmail bulk: cannot serve the dashboard on ${request.listen.host}:${request.listen.port}: ${(error as Error).message}`);
    return EXIT.FAILED;
  }
  line(io.stdout, `dashboard: ${board.url}`);
  const page = board;
  return new Promise<number>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void page.close().then(() => done(EXIT.OK));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
