/**
 * bullmq and ioredis are optional dependencies: only the fleet loads them,
 * and only when a fleet function is called, so `tclmail` and `tclmail/smtp`
 * stay lean and work without them.
 */
import { FleetError } from './errors';

type Bullmq = typeof import('bullmq');
type IoredisModule = typeof import('ioredis');

let bullmq: Bullmq | undefined;
let ioredis: IoredisModule | undefined;

function missing(name: string, cause: unknown): FleetError {
  return new FleetError('EDEPENDENCY', `the fleet needs the optional package ${name}, which is not installed: npm install bullmq ioredis`, { cause });
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'MODULE_NOT_FOUND';
}

/** The bullmq module, loaded on first use. @throws FleetError `EDEPENDENCY` when it is not installed. */
export function loadBullmq(): Bullmq {
  if (bullmq) return bullmq;
  try {
     
    bullmq = require('bullmq') as Bullmq;
  } catch (error) {
    if (isNotFound(error)) throw missing('bullmq', error);
    throw error;
  }
  return bullmq;
}

/** The ioredis module, loaded on first use. @throws FleetError `EDEPENDENCY` when it is not installed. */
export function loadIoredis(): IoredisModule {
  if (ioredis) return ioredis;
  try {
     
    ioredis = require('ioredis') as IoredisModule;
  } catch (error) {
    if (isNotFound(error)) throw missing('ioredis', error);
    throw error;
  }
  return ioredis;
}
