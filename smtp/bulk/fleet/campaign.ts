/**
 * A campaign as Redis keeps it: the manifest, the envelope sender, the rate,
 * whether it is paused, and the template with its attachments' bytes, stored
 * once. Workers on other machines render from this record, never from the
 * enqueuing machine's files.
 */
import type { CampaignManifest } from '../ledger';
import { FleetError } from './errors';
import type { FleetRedis } from './scripts';
import { type CampaignKeys } from './keys';

/** The template of a campaign: its bytes (what the renderer reads) and its attachments. */
export interface CampaignTemplate {
  /** The template's bytes, e.g. a raw .eml with `{{field}}` placeholders, or the CLI's template file. */
  bytes: Uint8Array;
  /** Files the template refers to, by name, with their bytes. */
  attachments?: ReadonlyArray<{ name: string; bytes: Uint8Array }>;
}

/** `active` sends; `paused` holds every item where it is; `cancelled` sends nothing more. */
export type CampaignStatus = 'active' | 'paused' | 'cancelled';

/** What a worker knows of a campaign. */
export interface CampaignRecord extends CampaignManifest {
  /** The envelope sender (MAIL FROM); `''` for the null sender. */
  sender: string;
  /** Messages per second across every worker, or null for no limit. */
  rate: number | null;
  status: CampaignStatus;
  /** The template's bytes. */
  template: Buffer;
  attachments: Array<{ name: string; bytes: Buffer }>;
  /** identity.templateDigest of the template and attachments. */
  templateDigest: string;
  /** What the enqueuer stored for the renderer (JSON), e.g. the CLI's template settings. */
  options: Record<string, unknown>;
}

/**
 * Reads a campaign's record. The template's bytes are read again only when
 * their digest differs from `previous` (a worker rereads the record often, for
 * pauses and rate changes; attachments can be large).
 * @throws FleetError `ECAMPAIGN` when there is no such campaign.
 */
export async function loadCampaign(redis: FleetRedis, keys: CampaignKeys, previous?: CampaignRecord | null): Promise<CampaignRecord> {
  const meta = await redis.hgetall(keys.meta);
  if (!meta || meta.campaign === undefined) throw new FleetError('ECAMPAIGN', `no campaign ${keys.campaign} in this Redis`);
  const names = JSON.parse(meta.attachments ?? '[]') as string[];
  const reuse = previous && previous.templateDigest !== '' && previous.templateDigest === meta.templateDigest;
  const tpl: Record<string, Buffer> = reuse ? {} : await redis.hgetallBuffer(keys.template);
  return {
    campaign: meta.campaign,
    listDigest: meta.listDigest ?? '',
    total: Number(meta.total ?? 0),
    createdAt: meta.createdAt ?? '',
    sender: meta.sender ?? '',
    rate: meta.rate ? Number(meta.rate) : null,
    status: (meta.status as CampaignStatus | undefined) ?? 'active',
    template: reuse ? previous.template : (tpl.t ?? Buffer.alloc(0)),
    attachments: reuse ? previous.attachments : names.map((name, i) => ({ name, bytes: tpl[`a${i}`] ?? Buffer.alloc(0) })),
    templateDigest: meta.templateDigest ?? '',
    options: JSON.parse(meta.options ?? '{}') as Record<string, unknown>,
  };
}

/** What is stored once per campaign. */
export interface CampaignDefinition {
  campaign: string;
  sender: string;
  template: CampaignTemplate;
  templateDigest: string;
  rate?: number | null;
  options?: Record<string, unknown>;
  listDigest?: string;
}

/**
 * Stores the campaign's record: created the first time, the template replaced
 * only when `replace` (an accepted change). The total is kept by the item script.
 */
export async function storeCampaign(redis: FleetRedis, keys: CampaignKeys, def: CampaignDefinition, replace: boolean, campaignsSet: string): Promise<void> {
  const exists = (await redis.hexists(keys.meta, 'campaign')) === 1;
  const multi = redis.multi();
  if (!exists || replace) {
    const names = (def.template.attachments ?? []).map((a) => a.name);
    const bytes: Array<string | Buffer> = ['t', Buffer.from(def.template.bytes)];
    (def.template.attachments ?? []).forEach((a, i) => bytes.push(`a${i}`, Buffer.from(a.bytes)));
    multi.del(keys.template);
    multi.hset(keys.template, ...bytes);
    multi.hset(keys.meta, 'campaign', def.campaign, 'sender', def.sender, 'templateDigest', def.templateDigest, 'attachments', JSON.stringify(names), 'options', JSON.stringify(def.options ?? {}));
    multi.hsetnx(keys.meta, 'createdAt', new Date().toISOString());
    multi.hsetnx(keys.meta, 'status', 'active');
    multi.hsetnx(keys.meta, 'total', '0');
  }
  if (def.rate !== undefined) multi.hset(keys.meta, 'rate', def.rate === null ? '' : String(def.rate));
  if (def.listDigest !== undefined) multi.hset(keys.meta, 'listDigest', def.listDigest);
  multi.sadd(campaignsSet, def.campaign);
  await multi.exec();
}
