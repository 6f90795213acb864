/** The smtp module: Tcllib smtp 1.5 and a step-by-step session (being written). */
export {};
export { connect } from './session';
export type { ConnectOptions, Extensions, LoginOptions, MessageChanges, MessageSource, Reply, SendmailOptions, Session, SessionState } from './types';
export { sendmessage } from './sendmessage';
export type { SendMessageOptions, TlsFailure, TlsPolicy, TlsVerdict } from './sendmessage';
export { pool } from './pool';
export type { Pool, PoolOptions } from './pool';
export { sendmany } from './sendmany';
export type { BulkItem, BulkOutcome, BulkProgress, BulkRun, SendManyOptions } from './sendmany';
export { JournalError } from './journal';
export { dkimSign, dkimRecord, DkimSigner } from './dkim';
export type { DkimAlgorithm, DkimOptions, DkimSignature } from './dkim';
export type { DsnOptions, NotifyValue } from './dsn';
export { enhancedOf } from './refused';
export type { RefusedRecipient } from './refused';
export type { StartTlsMode } from './extension-options';
