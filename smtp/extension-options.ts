/**
 * The options of `smtp.sendmessage` that go beyond Tcllib (docs/smtp.md,
 * "Beyond Tcllib"): LMTP, implicit TLS by name, TLS required on the hop or all
 * the way (REQUIRETLS), DSN, CHUNKING and BINARYMIME, DKIM. They are read and
 * checked here, before any connection, and handed to the session per message.
 */
import type { ConnectionOptions } from 'node:tls';
import { OptionError } from '../lib/errors';
import type { OptionSpecs, OptionsOf } from '../lib/options';
import { DkimSigner } from './dkim/sign';
import { checkDsn } from './protocol/dsn';
import type { DsnOptions } from './protocol/dsn';

/** When STARTTLS is used: `opportunistic` when offered (Tcllib's `-usetls 1`), `required` or `never`. */
export type StartTlsMode = 'opportunistic' | 'required' | 'never';

/** The option table entries, merged into sendmessage's. */
export const EXTENSION_OPTIONS = {
  protocol: { kind: 'string', values: ['smtp', 'lmtp'] },
  starttls: { kind: 'string', values: ['opportunistic', 'required', 'never'] },
  requiretls: { kind: 'boolean' },
  // notify, orcpt and dkim have shapes of their own, checked by planDsn and DkimSigner.
  notify: { kind: 'any' },
  ret: { kind: 'string', values: ['full', 'hdrs'] },
  envid: { kind: 'string' },
  orcpt: { kind: 'any' },
  dsnrequired: { kind: 'boolean' },
  chunking: { kind: 'boolean' },
  binarymime: { kind: 'boolean' },
  dkim: { kind: 'any' },
} as const satisfies OptionSpecs;

/** What {@link readExtensionOptions} reads: the table above plus sendmessage's Tcllib TLS options. */
export type ExtensionInput = OptionsOf<typeof EXTENSION_OPTIONS> & { usetls?: boolean; tlsimport?: boolean; tls?: unknown };

/** The options beyond Tcllib, checked: how to reach the server (LMTP, TLS) and what each message asks of it. */
export interface ExtensionSettings {
  protocol: 'smtp' | 'lmtp';
  /** Implicit TLS (`tls: 'implicit'` or `tlsimport`). */
  tlsimport: boolean;
  /** Node TLS options, when `tls` was an object. */
  tls?: ConnectionOptions;
  starttls: StartTlsMode;
  requiretls: boolean;
  /** DSN requests, undefined when none was made. */
  dsn?: DsnOptions;
  chunking: boolean;
  binarymime: boolean;
  dkim?: DkimSigner;
}

/**
 * Reads the extension options of one sendmessage call. `usetls` and
 * `tlsimport` are Tcllib's; `starttls`, when given, overrides `usetls`, and
 * `requiretls` implies `starttls: 'required'`.
 */
export function readExtensionOptions(o: ExtensionInput, command: string): ExtensionSettings {
  let tlsimport = o.tlsimport ?? false;
  let tls: ConnectionOptions | undefined;
  if (o.tls !== undefined) {
    if (typeof o.tls === 'string' && o.tls.toLowerCase() === 'implicit') tlsimport = true;
    else if (o.tls !== null && typeof o.tls === 'object' && !Array.isArray(o.tls)) tls = o.tls;
    else throw new OptionError(command, 'tls', `-tls expects Node TLS options or implicit, not ${JSON.stringify(o.tls)}`);
  }
  const requiretls = o.requiretls ?? false;
  const usetls = o.usetls ?? true;
  const starttls = o.starttls ?? (requiretls ? 'required' : usetls ? 'opportunistic' : 'never');
  if (requiretls && starttls !== 'required') {
    throw new OptionError(command, 'requiretls', `-requiretls needs TLS on the way, so it cannot go with -starttls ${starttls}`);
  }

  const dsnGiven = o.notify !== undefined || o.ret !== undefined || o.envid !== undefined || o.orcpt !== undefined || o.dsnrequired !== undefined;
  const dsn = dsnGiven ? { notify: o.notify, ret: o.ret, envid: o.envid, orcpt: o.orcpt, required: o.dsnrequired ?? false } : undefined;
  // Checked now, so a bad value fails before any connection.
  checkDsn(dsn, command);

  return {
    protocol: o.protocol ?? 'smtp',
    tlsimport,
    tls,
    starttls,
    requiretls,
    dsn,
    chunking: o.chunking ?? true,
    binarymime: o.binarymime ?? false,
    dkim: o.dkim === undefined ? undefined : new DkimSigner(o.dkim, command),
  };
}
