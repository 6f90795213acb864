/**
 * Ties each bounce report to a campaign item and records it: shared by
 * `tclmail bounces --journal/--redis` and `tclmail serve --bounces`.
 *
 * Correlation, first match wins: the VERP item id (from the envelope
 * recipient the bounce was delivered to, else from the addresses the report
 * carries), the ENVID (`tclmail bulk --verp` sets it to the item id), then
 * the Message-ID (the file journal records each sent item's Message-ID).
 *
 * The file journal's lock belongs to a running bulk, so bounces go to the
 * sidecar `<journal>.bounces` (smtp/bulk/bounce-sidecar.ts), which the
 * ledger reads; in Redis a guarded script moves the item (redis-bounces.ts).
 */
import { statSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { BounceRecipient, BounceReport } from '../bounce';
import { appendBounces, foldBounce } from '../smtp/bulk/bounce-sidecar';
import { FileLedger, JournalError } from '../smtp/bulk/journal';
import type { LedgerItem } from '../smtp/bulk/ledger';
import { openRedis, quit } from '../smtp/bulk/fleet/connection';
import { CampaignKeys, checkCampaignName, DEFAULT_PREFIX } from '../smtp/bulk/fleet/keys';
import { addRedisSuppression, recordRedisBounce } from '../smtp/bulk/redis-bounces';
import type { BounceResult } from '../smtp/bulk/redis-bounces';
import { UsageError } from './args';

/** What recording one entry did: the item it found ('' when none) and the result. */
export interface Recorded {
  item: string;
  result: BounceResult;
}

/** Where bounces are recorded. */
export interface BounceTarget {
  /** Records every entry of a report; one result per recipient entry, in order. */
  record(report: BounceReport, envelopeItem: string): Promise<Recorded[]>;
  /** Adds addresses to the target's own suppression list (Redis), if it has one. */
  suppress(addresses: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

function candidates(report: BounceReport, envelopeItem: string): string[] {
  return [envelopeItem, report.original.item, report.original.envid].filter((id, i, all) => id !== '' && all.indexOf(id) === i);
}

/** Entries of the report that concern the item: those naming its recipient, else all of them. */
function concerning(report: BounceReport, recipient: string | undefined): Set<BounceRecipient> {
  const all = report.recipients;
  if (recipient === undefined) return new Set(all);
  const mine = all.filter((r) => r.address.toLowerCase() === recipient.toLowerCase());
  return new Set(mine.length > 0 ? mine : all);
}

/** A Message-ID without its angle brackets (bounce.parse gives it so). */
function bareMessageId(value: string): string {
  return value.trim().replace(/^<|>$/g, '');
}

function counted(report: BounceReport): boolean {
  // Auto-replies say nothing of delivery; a complaint is a suppression, not a bounce.
  return report.kind === 'dsn';
}

/**
 * The file journal target: reads the journal without its lock (opened again
 * only once it has grown), appends to the sidecar.
 */
export function fileTarget(journal: string): BounceTarget {
  let byMessageId: Map<string, string> | null = null;
  let open: { ledger: FileLedger; size: number } | null = null;

  async function current(): Promise<FileLedger | null> {
    let size: number;
    try {
      size = statSync(journal).size;
    } catch {
      return null;
    }
    if (open && open.size === size) return open.ledger;
    await open?.ledger.close();
    open = null;
    byMessageId = null;
    try {
      open = { ledger: await FileLedger.openReadOnly(journal), size };
    } catch (error) {
      if (error instanceof JournalError) throw new UsageError(`--journal: ${error.message}`);
      throw error;
    }
    return open.ledger;
  }

  return {
    async record(report, envelopeItem) {
      const ledger = await current();
      if (ledger === null) return report.recipients.map(() => ({ item: '', result: 'unknown' }));
      let item: LedgerItem | undefined;
      for (const id of candidates(report, envelopeItem)) {
        // lookup (not lookupSync) reads the sidecar again: this target's own earlier lines included.
        item = await ledger.lookup(id);
        if (item) break;
      }
      const messageId = report.original.messageId;
      if (!item && messageId !== '') {
        if (byMessageId === null) {
          byMessageId = new Map();
          for await (const it of ledger.items({ states: ['sent', 'bounced'] })) if (it.messageId) byMessageId.set(bareMessageId(it.messageId), it.id);
        }
        const id = byMessageId.get(bareMessageId(messageId));
        if (id !== undefined) item = await ledger.lookup(id);
      }
      if (!item || !counted(report)) return report.recipients.map(() => ({ item: item?.id ?? '', result: item ? 'unchanged' : 'unknown' }));
      const found = item;
      const mine = concerning(report, found.recipient);
      const lines = [];
      const results: Recorded[] = [];
      let bounce = found.bounce;
      const at = new Date().toISOString();
      for (const r of report.recipients) {
        if (!mine.has(r) || (found.state !== 'sent' && found.state !== 'bounced')) {
          results.push({ item: found.id, result: mine.has(r) ? 'not-sent' : 'unchanged' });
          continue;
        }
        const entry = { id: found.id, action: r.action, status: r.status, reason: r.reason, hard: r.hard, diagnostic: r.diagnostic, at, address: r.address };
        const next = foldBounce(bounce, entry);
        const result: BounceResult = bounce?.hard ? 'kept' : next === undefined ? (bounce ? 'cleared' : 'unchanged') : 'bounced';
        bounce = next;
        lines.push(entry);
        results.push({ item: found.id, result });
      }
      appendBounces(journal, lines);
      return results;
    },
    async suppress() {
      // The file list (--suppress FILE) is written by the caller.
    },
    async close() {
      await open?.ledger.close();
      open = null;
    },
  };
}

/** The Redis target: a guarded script per entry; `--suppress` also fills the fleet's suppression set. */
export async function redisTarget(url: string, campaign: string): Promise<BounceTarget> {
  try {
    checkCampaignName(campaign);
  } catch (error) {
    throw new UsageError(`--campaign: ${(error as Error).message}`);
  }
  const redis: Redis = openRedis(url, 'tclmail-bounces');
  const keys = new CampaignKeys(DEFAULT_PREFIX, campaign);
  return {
    async record(report, envelopeItem) {
      let id = '';
      let recipient: string | undefined;
      for (const candidate of candidates(report, envelopeItem)) {
        if (!/^[\x21-\x7e]{1,200}$/.test(candidate)) continue;
        const r = await redis.hget(keys.item(candidate), 'r');
        if (r !== null) {
          id = candidate;
          recipient = r || undefined;
          break;
        }
      }
      if (id === '' || !counted(report)) return report.recipients.map(() => ({ item: id, result: id === '' ? 'unknown' : 'unchanged' }));
      const mine = concerning(report, recipient);
      const results: Recorded[] = [];
      for (const r of report.recipients) {
        if (!mine.has(r)) {
          results.push({ item: id, result: 'unchanged' });
          continue;
        }
        results.push({ item: id, result: await recordRedisBounce(redis, campaign, id, r) });
      }
      return results;
    },
    async suppress(addresses) {
      await addRedisSuppression(redis, addresses);
    },
    close: () => quit(redis),
  };
}
