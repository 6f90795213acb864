/**
 * tclmail's fleet: bulk campaigns sent by any number of workers on BullMQ
 * and Redis, with the same ledger states and guarantee as the file journal
 * (docs/fleet.md). bullmq and ioredis are optional dependencies, loaded only
 * when a function of this module is called.
 */
export { openFleet, enqueueCampaign, Fleet } from './fleet';
export type { FleetOptions, EnqueuedItem } from './fleet';
export { startWorker } from './worker';
export type { WorkerOptions, WorkerEvent, WorkerStats, FleetWorker } from './worker';
export { checkDurability, inspectDurability } from './durability';
export type { DurabilityReport } from './durability';
export { redactRedisUrl, describeConnection } from './connection';
export type { RedisConnection, FleetConnection } from './connection';
export { renderRawTemplate } from './render';
export type { Rendered, RenderHook } from './render';
export type { CampaignRecord, CampaignStatus, CampaignTemplate } from './campaign';
export type { CampaignSpec, EnqueueCampaignOptions, EnqueueResult, Repeat } from './enqueue';
export type { FleetItem, ItemSource } from './items';
export { RedisLedger } from './redis-ledger';
export type { ClaimedItem, ClaimStatus } from './redis-ledger';
export { burstOf } from './rate';
export { FleetError, ChangedItemsError, LedgerWriteError, DurabilityError, ListChangedError, RepeatedIdError } from './errors';
export type { FleetErrorCode } from './errors';
export { DEFAULT_PREFIX } from './keys';
