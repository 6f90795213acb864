/** The smtp module: Tcllib smtp 1.5 and a step-by-step session (being written). */
export {};
export { connect } from './protocol/session';
export type { ConnectOptions, Extensions, LoginOptions, MessageChanges, MessageSource, Reply, SendmailOptions, Session, SessionState } from './protocol/types';
export { sendmessage } from './sendmessage';
export type { SendMessageOptions, TlsFailure, TlsPolicy, TlsVerdict } from './sendmessage';
export { pool } from './bulk/pool';
export type { Pool, PoolOptions } from './bulk/pool';
export { sendmany } from './bulk/sendmany';
export type { BulkItem, BulkOutcome, BulkProgress, BulkRun, SendManyOptions } from './bulk/sendmany';
export { JournalError } from './bulk/journal';
export { SmtpError, UncertainDeliveryError, OptionError, InvalidInputError } from '../lib/errors';
export type { Attempt, Rejected } from '../lib/errors';
export { dkimSign, dkimRecord, DkimSigner } from './dkim/sign';
export type { DkimAlgorithm, DkimOptions, DkimSignature } from './dkim/sign';
export type { DsnOptions, NotifyValue } from './protocol/dsn';
export { enhancedOf } from './protocol/refused';
export type { RefusedRecipient } from './protocol/refused';
export type { StartTlsMode } from './modern-options';
