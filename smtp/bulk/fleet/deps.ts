/**
 * bullmq and ioredis are optional dependencies: only the fleet loads them,
 * and only when a fleet function is called, so `tclmail` and `tclmail/smtp`
 * stay lean and work without them.
 */
import { FleetError } from './errors';

type Bullmq = typeof import('bullmq');
type IoredisModule = typeof import('ioredis');

function missing(name: string, cause: unknown): FleetError {
  return new FleetError('EDEPENDENCY', `the fleet needs the optional package ${name}, which is not installed: npm install bullmq ioredis`, { cause });
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'MODULE_NOT_FOUND';
}

/** Loads the optional package `name` on the first call and keeps it; a failed load is tried again on the next call. */
function optional<T>(name: 'bullmq' | 'ioredis'): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded) return loaded;
    try {
      loaded = require(name) as T;
    } catch (error) {
      if (isNotFound(error)) throw missing(name, error);
      throw error;
    }
    return loaded;
  };
}

/** The bullmq module, loaded on first use. @throws FleetError `EDEPENDENCY` when it is not installed. */
export const loadBullmq: () => Bullmq = optional('bullmq');

/** The ioredis module, loaded on first use. @throws FleetError `EDEPENDENCY` when it is not installed. */
export const loadIoredis: () => IoredisModule = optional('ioredis');
