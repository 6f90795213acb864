/**
 * Delivery Status Notifications (RFC 3461): when the servers on the way
 * should report (NOTIFY), what a report returns (RET), the sender's own id
 * for the transaction (ENVID) and the original recipient (ORCPT). Values
 * travel as xtext, so nothing the caller passes can end a command line or
 * add a parameter.
 */
import { OptionError } from '../../lib/errors';
import { tclBoolean } from '../../lib/options';
import type { MailParameter, NotifyKeyword, RcptParameter } from './parameters';

/** A NOTIFY value: keywords as a list, or one string separated by commas or spaces (`'success,failure'`). */
export type NotifyValue = string | readonly string[];

/**
 * The DSN requests of one message. Tcl: `-notify {failure delay} -ret hdrs -envid id-42 -orcpt 1`.
 */
export interface DsnOptions {
  /** NOTIFY for every recipient, or per recipient: `{ 'ann@x.org': 'never', '*': 'failure,delay' }`. */
  notify?: NotifyValue | Readonly<Record<string, NotifyValue>>;
  /** RET: return the `full` message or only its headers (`hdrs`) in a report. */
  ret?: string;
  /** ENVID: an id of the sender's choosing that reports quote back (printable ASCII, at most 100 characters). */
  envid?: string;
  /** ORCPT: true sends each recipient's own address; an object maps a recipient to the original address. */
  orcpt?: boolean | Readonly<Record<string, string>>;
  /** Refuse a server that does not offer DSN (it is given up, nothing sent) instead of sending without the requests. */
  required?: boolean;
}

/** DSN options as a caller may pass them, before {@link planDsn} has checked every value. */
export type UncheckedDsnOptions = { readonly [K in keyof DsnOptions]?: unknown };

/** Checked DSN requests, ready to become ESMTP parameters. */
export interface DsnPlan {
  /** Any request at all: without one, DSN is not mentioned on the wire. */
  readonly requested: boolean;
  readonly required: boolean;
  /** RET and ENVID for MAIL FROM. */
  readonly mailParams: readonly MailParameter[];
  /** NOTIFY and ORCPT for the RCPT of `address` (the address as the caller gave it). */
  rcptParams(address: string): RcptParameter[];
}

/** When a report is wanted, RFC 3461 §4.1: `never`, or any of `success`, `failure`, `delay`. */
const NOTIFY_WORDS: readonly string[] = ['never', 'success', 'failure', 'delay'];
const NO_DSN: DsnPlan = { requested: false, required: false, mailParams: [], rcptParams: () => [] };

function notifyParam(command: string, option: string, value: unknown): RcptParameter {
  let words: unknown[];
  if (typeof value === 'string') words = value.split(/[\s,]+/).filter((word) => word !== '');
  else if (Array.isArray(value)) words = value;
  else throw new OptionError(command, option, `-${option} expects never, or a list of success, failure and delay`);
  const lower = words.map((word) => {
    if (typeof word !== 'string' || !NOTIFY_WORDS.includes(word.toLowerCase())) {
      throw new OptionError(command, option, `-${option}: ${JSON.stringify(word)} is not one of ${NOTIFY_WORDS.join(', ')}`);
    }
    return word.toUpperCase() as NotifyKeyword;
  });
  if (lower.length === 0) throw new OptionError(command, option, `-${option} is empty`);
  // RFC 3461 §4.1: NEVER stands alone.
  if (lower.includes('NEVER') && lower.length > 1) throw new OptionError(command, option, `-${option}: never cannot be combined with other values`);
  return { kind: 'NOTIFY', when: [...new Set(lower)] };
}

/** {@link planDsn}'s checks alone: afterwards the options are known to be {@link DsnOptions}. */
export function checkDsn(options: UncheckedDsnOptions | undefined, command: string): asserts options is DsnOptions | undefined {
  planDsn(options, command);
}

/**
 * Checks DSN options before any I/O and turns them into parameters. Option
 * names in errors are sendmessage's (`notify`, `ret`, `envid`, `orcpt`,
 * `dsnrequired`).
 */
export function planDsn(options: UncheckedDsnOptions | undefined, command = 'smtp.sendmail'): DsnPlan {
  if (!options) return NO_DSN;
  const mailParams: MailParameter[] = [];
  if (options.ret !== undefined) {
    const ret = typeof options.ret === 'string' ? options.ret.toUpperCase() : '';
    if (ret !== 'FULL' && ret !== 'HDRS') throw new OptionError(command, 'ret', `-ret expects full or hdrs, not ${JSON.stringify(options.ret)}`);
    mailParams.push({ kind: 'RET', what: ret });
  }
  if (options.envid !== undefined) {
    const envid = options.envid;
    if (typeof envid !== 'string' || envid === '' || envid.length > 100 || !/^[\x20-\x7e]+$/.test(envid)) {
      throw new OptionError(command, 'envid', '-envid expects 1 to 100 printable ASCII characters (RFC 3461 section 4.4)');
    }
    mailParams.push({ kind: 'ENVID', id: envid });
  }

  let notifyAll: RcptParameter | null = null;
  const notifyEach = new Map<string, RcptParameter>();
  const notify = options.notify;
  if (notify !== undefined) {
    if (typeof notify === 'string' || Array.isArray(notify)) notifyAll = notifyParam(command, 'notify', notify);
    else if (typeof notify === 'object' && notify !== null) {
      for (const [address, value] of Object.entries(notify)) {
        const param = notifyParam(command, 'notify', value);
        if (address === '*') notifyAll = param;
        else notifyEach.set(address.toLowerCase(), param);
      }
    } else throw new OptionError(command, 'notify', '-notify expects a list of keywords or an object by recipient');
  }

  let orcptAll = false;
  const orcptEach = new Map<string, string>();
  // A Tcl flat list gives booleans as words: -orcpt 1.
  const orcpt = typeof options.orcpt === 'string' ? (tclBoolean(options.orcpt) ?? options.orcpt) : options.orcpt;
  if (orcpt !== undefined) {
    if (typeof orcpt === 'boolean') orcptAll = orcpt;
    else if (typeof orcpt === 'object' && orcpt !== null && !Array.isArray(orcpt)) {
      for (const [address, original] of Object.entries(orcpt)) {
        if (typeof original !== 'string' || original === '') throw new OptionError(command, 'orcpt', `-orcpt: the original address of ${address} must be a string`);
        orcptEach.set(address.toLowerCase(), original);
      }
    } else throw new OptionError(command, 'orcpt', '-orcpt expects a boolean or an object by recipient');
  }

  const requested = mailParams.length > 0 || notifyAll !== null || notifyEach.size > 0 || orcptAll || orcptEach.size > 0;
  return {
    requested,
    required: options.required === true,
    mailParams,
    rcptParams(address: string): RcptParameter[] {
      const key = address.toLowerCase();
      const params: RcptParameter[] = [];
      const n = notifyEach.get(key) ?? notifyAll;
      if (n) params.push(n);
      const original = orcptEach.get(key) ?? (orcptAll ? address : undefined);
      if (original !== undefined) params.push({ kind: 'ORCPT', address: original });
      return params;
    },
  };
}
