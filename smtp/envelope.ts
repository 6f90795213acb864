/**
 * The envelope of `smtp.sendmessage`: who the message is from (MAIL FROM), who
 * gets it (RCPT TO), and which header fields the transmitted copy gains or
 * loses. Pure functions over header lists, so the rules can be read and tested
 * without a server.
 *
 * The rules are Tcllib smtp 1.5.1's (it reads the envelope from the `-header`
 * fields only; docs/differences-from-tcllib.md) with its bugs fixed:
 * - the part's own header fields count as well as the `header` option's;
 * - Bcc and Dcc never reach the transmitted header, from either source;
 * - the Sender field, when one is added, names the originator (RFC 5322 §3.6.2);
 * - a message always has a From, and no domain is ever invented;
 * - groups give their members, and an empty group gives nobody (no `RCPT TO:<>`).
 */
import { parseAddressList, type AddressInfo } from '../lib/address';
import { InvalidInputError, OptionError } from '../lib/errors';
import { refuseControls } from '../lib/text';
import { checkMailbox } from './protocol/command';
import { checkFieldName, isReservedField } from '../mime/build/headers';

/** One header field as a name and an unfolded value. */
export interface Field {
  name: string;
  value: string;
}

/** Where a value came from: an option of the call, or the part being sent. */
type Origin = 'originator' | 'recipients' | 'header' | 'part';

/** What the envelope is derived from. */
export interface EnvelopeInput {
  /** The `originator` option: undefined when not given, `''` for the null sender `<>`. */
  originator?: string;
  /** The `recipients` option (comma separated); undefined or `''` when not given. */
  recipients?: string;
  /** The `header` option's pairs, in the order given. */
  header: ReadonlyArray<readonly [string, string]>;
  /** The top-level header fields of the part being sent, in order. */
  partHeaders: readonly Field[];
  /** `same`: Bcc recipients are RCPTs of the one transaction; `digest`: they get Tcllib's separate copy. */
  bcc: 'same' | 'digest';
  /** Makes the Date and Message-ID values added when the message has none (injected so tests can fix them). */
  stamp: { date: () => string; messageId: () => string };
}

/** The result: the SMTP envelope and the changes to the transmitted header. */
export interface Envelope {
  /** True when a `Resent-` key in the `header` option made the Resent- fields the envelope source. */
  resent: boolean;
  /** The reverse path for MAIL FROM; `''` is the null sender `<>`. */
  sender: string;
  /** RCPT TO addresses of the message, in order, without duplicates. */
  recipients: string[];
  /** `bcc: 'digest'` only: the blind recipients of the separate copy (never also in `recipients`). */
  blind: string[];
  /** Fields to add to the transmitted message, in order: the `header` pairs, then any From, Sender, Date and Message-ID made here. */
  addHeaders: Array<[string, string]>;
  /** Lowercase names of the fields never transmitted (Bcc and Dcc, plain and Resent-). */
  omitHeaders: string[];
  /** For the digest: the originator as text (From of the blind copy) and the message's first Subject. */
  originatorText: string;
  subject: string | undefined;
}

const COMMAND = 'smtp.sendmessage';

/** Never transmitted, whatever the mode: blind recipients must stay blind. */
export const BLIND_FIELDS: readonly string[] = ['bcc', 'dcc', 'resent-bcc', 'resent-dcc'];

function fail(origin: Origin, who: string, message: string): never {
  if (origin === 'part') throw new InvalidInputError(who, message);
  throw new OptionError(COMMAND, origin, message);
}

/**
 * Checks one `header` option pair before anything else looks at it: a field
 * name RFC 5322 allows, a value with no line break, and none of the fields the
 * MIME layer owns.
 */
export function checkHeaderPair(name: string, value: string): void {
  checkFieldName(name);
  refuseControls(`header ${name}`, value);
  // The MIME layer writes these from the part's type and encoding (Tcllib's rule, in sendmessage's words).
  if (isReservedField(name)) {
    throw new OptionError(COMMAND, 'header', 'Content-Type, Content-Transfer-Encoding, Content-MD5, and MIME-Version cannot be user-specified.');
  }
}

/**
 * The mailboxes of one address list, checked: a parse error, an address
 * without a domain, or a character that could break out of `<...>` on a
 * command line is an error naming `who`. Members of a group count as
 * mailboxes; an empty group gives none.
 */
export function mailboxes(text: string, who: string, origin: Origin): string[] {
  const known = checkedLists.get(text);
  if (known !== undefined) return [...known];
  refuseControls(who, text);
  if (text.trim() === '') return [];
  const out: string[] = [];
  for (const info of parseAddressList(text)) {
    const address = checkedAddress(info, who, origin);
    if (address !== null) out.push(address);
  }
  remember(text, out);
  return out;
}

// Lists that passed every check, by their text: a bulk run repeats its From (and often its To) for each message,
// and the result depends on the text alone (a failure is never stored, so its error still names the field).
// Listed in docs/fast-paths.md with the test that guards it.
const checkedLists = new Map<string, readonly string[]>();
const CHECKED_LISTS = 256;
const CHECKED_TEXT = 2048;

function remember(text: string, list: readonly string[]): void {
  if (text.length > CHECKED_TEXT) return;
  if (checkedLists.size >= CHECKED_LISTS) checkedLists.clear();
  checkedLists.set(text, [...list]);
}

function checkedAddress(info: AddressInfo, who: string, origin: Origin): string | null {
  if (info.error) fail(origin, who, `error in ${who}: ${info.error}`);
  if (info.address === '') {
    // `undisclosed-recipients:;` and the like: a group with no members addresses nobody.
    if (info.group !== '' || info.memberP !== 0) return null;
    fail(origin, who, `error in ${who}: empty address`);
  }
  // The session's own check for a path on a command line, applied before any connection.
  checkMailbox(who, info.address);
  if (info.domain === '' || !info.address.includes('@')) {
    fail(origin, who, `error in ${who}: ${JSON.stringify(info.address)} has no domain (tclmail never adds one)`);
  }
  return info.address;
}

/** Appends `more` to `list`, skipping addresses already in `seen` (compared case-insensitively). */
function addUnique(list: string[], seen: Set<string>, more: readonly string[]): void {
  for (const address of more) {
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    list.push(address);
  }
}

type Value = { value: string; origin: Origin };
const NONE: readonly Value[] = [];

/** Every value of one field, from the part first and then from the `header` option (the order the message shows them). */
class FieldTable {
  // One pass over both lists, by lowercase name: the envelope asks for a dozen names.
  private readonly byName = new Map<string, Value[]>();

  constructor(header: ReadonlyArray<readonly [string, string]>, part: readonly Field[]) {
    for (const f of part) this.add(f.name, { value: f.value, origin: 'part' });
    for (const [key, value] of header) this.add(key, { value, origin: 'header' });
  }

  private add(name: string, value: Value): void {
    const lower = name.toLowerCase();
    const list = this.byName.get(lower);
    if (list) list.push(value);
    else this.byName.set(lower, [value]);
  }

  values(name: string): readonly Value[] {
    return this.byName.get(name.toLowerCase()) ?? NONE;
  }

  has(name: string): boolean {
    return this.values(name).length > 0;
  }

  addresses(name: string): string[] {
    return addressesOf(this.values(name), name);
  }
}

/** The mailboxes of every value, in order (a loop: flatMap is slow in V8 and this runs several times a message). */
function addressesOf(values: readonly Value[], name: string): string[] {
  const out: string[] = [];
  for (const { value, origin } of values) {
    for (const address of mailboxes(value, name, origin)) out.push(address);
  }
  return out;
}

/**
 * Derives the envelope and header changes for one send. Throws an
 * {@link OptionError} (a value given as an option) or an
 * {@link InvalidInputError} (a value on the part) before any connection when
 * the message could not be sent as asked.
 */
export function deriveEnvelope(input: EnvelopeInput): Envelope {
  for (const [name, value] of input.header) checkHeaderPair(name, value);

  const resent = input.header.some(([key]) => key.toLowerCase().startsWith('resent-'));
  const prefix = resent ? 'Resent-' : '';
  const fields = new FieldTable(input.header, input.partHeaders);
  const fromName = `${prefix}From`;
  const senderName = `${prefix}Sender`;

  const addHeaders: Array<[string, string]> = input.header
    .filter(([key]) => !BLIND_FIELDS.includes(key.toLowerCase()))
    .map(([key, value]) => [key, value]);

  // --- the originator (MAIL FROM) and the From / Sender fields ---
  const fromValues = fields.values(fromName);
  const fromAddresses = addressesOf(fromValues, fromName);
  let sender: string;
  let originatorText: string;
  if (input.originator !== undefined && input.originator !== '') {
    const given = mailboxes(input.originator, 'originator', 'originator');
    if (given.length !== 1) {
      throw new OptionError(COMMAND, 'originator', given.length === 0
        ? `error in -originator: no mailbox in ${JSON.stringify(input.originator)}`
        : `too many mailboxes in -originator: ${input.originator}`);
    }
    sender = given[0];
    originatorText = input.originator;
    if (fromValues.length === 0) {
      addHeaders.push([fromName, input.originator]);
    } else if (!fields.has(senderName) && (fromAddresses.length !== 1 || fromAddresses[0].toLowerCase() !== sender.toLowerCase())) {
      // RFC 5322 §3.6.2: the Sender is the mailbox that transmits, which is the originator here.
      addHeaders.push([senderName, sender]);
    }
  } else {
    if (fromValues.length === 0 || fromAddresses.length === 0) {
      const how = input.originator === '' ? 'with -originator ""' : 'without -originator';
      throw new OptionError(COMMAND, 'header', `need -header "${fromName} ..." (or a ${fromName} on the part): a message ${how} still needs an author`);
    }
    originatorText = fromValues.map((f) => f.value).join(',');
    if (input.originator === '') {
      sender = '';
    } else if (fromAddresses.length === 1) {
      sender = fromAddresses[0];
    } else {
      // Several authors: RFC 5322 §3.6.2 requires a Sender, and it is the one mailbox that sends.
      const senders = fields.addresses(senderName);
      if (senders.length !== 1) {
        throw new OptionError(COMMAND, 'header', `too many mailboxes in ${fromName}: ${originatorText} (give -originator or one ${senderName})`);
      }
      sender = senders[0];
    }
  }

  // --- the recipients (RCPT TO) ---
  const blindGiven = [...fields.addresses(`${prefix}Bcc`)];
  const recipients: string[] = [];
  const seen = new Set<string>();
  if (input.recipients !== undefined && input.recipients !== '') {
    addUnique(recipients, seen, mailboxes(input.recipients, 'recipients', 'recipients'));
  } else {
    for (const name of ['To', 'Cc', 'Dcc']) addUnique(recipients, seen, fields.addresses(prefix + name));
  }
  const blind: string[] = [];
  if (input.bcc === 'digest') {
    addUnique(blind, seen, blindGiven);
    if (recipients.length === 0 && blind.length > 0) {
      throw new OptionError(COMMAND, 'bcc', 'bcc "digest" sends a copy of a message that has other recipients: this one has only Bcc (use bcc "same")');
    }
  } else {
    addUnique(recipients, seen, blindGiven);
  }
  if (recipients.length === 0) {
    throw new OptionError(COMMAND, 'recipients', `no recipients: give -recipients or -header "${prefix}To ..." (${prefix}Cc or ${prefix}Bcc also count)`);
  }

  // --- trace fields the message must carry ---
  const dateName = `${prefix}Date`;
  const idName = `${prefix}Message-ID`;
  if (!fields.has(dateName)) addHeaders.push([dateName, input.stamp.date()]);
  if (!fields.has(idName)) addHeaders.push([idName, input.stamp.messageId()]);

  const subjects = fields.values('Subject');
  const fromOption = input.header.find(([key]) => key.toLowerCase() === 'subject');
  return {
    resent,
    sender,
    recipients,
    blind,
    addHeaders,
    omitHeaders: [...BLIND_FIELDS],
    originatorText,
    subject: fromOption ? fromOption[1] : subjects[0]?.value,
  };
}
