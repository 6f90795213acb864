/**
 * The smtp module: Tcllib's `smtp::sendmessage` (smtp 1.5) as `sendmessage`,
 * a step-by-step session (`connect`) in the manner of Python's smtplib, a
 * pool of sessions (`pool`), bulk sending (`sendmany`) and DKIM signing.
 * See docs/smtp.md.
 */
export { connect } from './protocol/session';
export type { ConnectOptions, Extensions, LoginOptions, MessageChanges, MessageSource, Reply, SendmailOptions, Session, SessionState } from './protocol/types';
export { sendmessage } from './sendmessage';
export type { CallOptions, SendMessageOptions, TlsFailure, TlsPolicy, TlsVerdict } from './sendmessage';
export { pool } from './bulk/pool';
export type { Pool, PoolOptions } from './bulk/pool';
export { sendmany } from './bulk/sendmany';
export type { BulkItem, BulkOutcome, BulkProgress, BulkRun, SendManyOptions } from './bulk/sendmany';
export { JournalError, JournalLineError, JournalLockError, JournalCampaignError, FileLedger, openLedgerForStatus } from './bulk/journal';
export type { FileLedgerOptions, FileAdmission } from './bulk/journal';
export { CircuitOpenError } from './bulk/breaker';
export { ChangedItemsError, LedgerError } from './bulk/ledger';
export { SmtpError, UncertainDeliveryError, OptionError, InvalidInputError } from '../lib/errors';
export type { Attempt, Rejected } from '../lib/errors';
export { dkimSign, dkimRecord, DkimSigner } from './dkim/sign';
export type { DkimAlgorithm, DkimOptions, DkimSignature } from './dkim/sign';
export type { DsnOptions, NotifyValue } from './protocol/dsn';
export { enhancedOf } from './protocol/refused';
export type { RefusedRecipient } from './protocol/refused';
export type { StartTlsMode } from './extension-options';
