/**
 * `tclmail bulk TEMPLATE LIST --redis URL --campaign NAME`: the list is
 * checked by the rules of a local run, then the campaign is stored (the
 * template with its attachments' bytes, once) and its items enqueued. A
 * second run with the same list adds nothing; a changed item is refused
 * before anything is stored (exit 65) unless --accept-changed.
 */
import { parseAddressList } from '../lib/address';
import type { Fleet, FleetItem, Repeat } from '../smtp/bulk/fleet';
import { ListChangedError } from '../smtp/bulk/fleet/errors';
import { unsubscribeHeaders } from '../smtp/bulk/unsubscribe';
import { EXIT, line, stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import { bulkBounce, isSuppressed, VerpIdCheck } from './bulk-bounce';
import type { BulkBounce } from './bulk-bounce';
import { countInvalid, emptyValidation, ListChecker, repeatedIdReason } from './bulk-list';
import type { Row } from './recipients';
import { readTemplate } from './template';
import type { Template } from './template';
import { storeTemplate, TEMPLATE_FORMAT } from './template-store';

export interface EnqueueRequest {
  templatePath: string;
  listPath: string;
  campaign: string;
  flags: Flags;
  io: Io;
  rate: number | undefined;
  /** Days a finished campaign is kept; 0 keeps it until purged. */
  retainDays: number;
}

/** The envelope sender of every item: --originator, else the template's From address. */
function senderOf(template: Template, flags: Flags): string {
  const given = stringFlag(flags, 'originator');
  if (given !== undefined) {
    if (given === '') return '';
    const [mailbox, ...more] = parseAddressList(given);
    if (mailbox === undefined || mailbox.error !== '' || more.length > 0) throw new UsageError(`--originator expects one address, not ${JSON.stringify(given)}`);
    return mailbox.address;
  }
  const from = template.root.headers.find(([name]) => name.toLowerCase() === 'from')?.[1];
  if (from === undefined) throw new UsageError('the template has no From field: give one, or the envelope sender with --originator ADDR');
  if (/\{\{/.test(from)) throw new UsageError('the template\'s From field has a placeholder, so it is no single envelope sender: give --originator ADDR');
  const [mailbox] = parseAddressList(from);
  if (mailbox === undefined || mailbox.error !== '') throw new UsageError(`the template's From field ${JSON.stringify(from)} holds no address: fix it, or give --originator ADDR`);
  return mailbox.address;
}

/**
 * The bounce flags of an enqueue: --verp and --suppress as a local run reads
 * them; --unsubscribe URL alone, since the secret stays with the workers
 * (`tclmail worker --unsubscribe-secret-file`) and is never stored in Redis.
 * A secret file given here is only checked.
 */
function fleetBounce(flags: Flags): BulkBounce {
  if (stringFlag(flags, 'unsubscribe-secret-file') !== undefined) return bulkBounce(flags);
  const url = stringFlag(flags, 'unsubscribe');
  const extras = bulkBounce({ ...flags, unsubscribe: undefined });
  if (url !== undefined) {
    try {
      unsubscribeHeaders({ url, secret: Buffer.alloc(16), id: 'x', address: 'check@example.org' });
    } catch (error) {
      throw new UsageError(`--unsubscribe: ${(error as Error).message.replace(/^unsubscribeHeaders: /, '')}`);
    }
    extras.unsubscribe = { url, secret: Buffer.alloc(0) };
  }
  return extras;
}

/** Exit status for a list that cannot be enqueued as it is (sysexits' EX_DATAERR). */
const DATA_ERROR = 65;

/** Validates, stores and enqueues; resolves to the exit status. */
export async function enqueueList(fleet: Fleet, request: EnqueueRequest): Promise<number> {
  const { flags, io, campaign, listPath } = request;
  const template = readTemplate(request.templatePath);
  const sender = senderOf(template, flags);
  const extras = fleetBounce(flags);
  // The rules of a local run: one mailbox per row, every value present, ids unique. The validation is the fleet's
  // check read (the first read of the list), and Redis finds repeated ids, so nothing is kept here per row; the
  // store read reads the list once more (checker.rows()).
  const checker = new ListChecker({ path: listPath, template, templatePath: request.templatePath, sender, allowEmpty: flags['allow-empty'] === true, trackIds: false });
  const validation = emptyValidation();
  const verp = new VerpIdCheck(extras);
  // The row each item came from, while the check read may still name it.
  const rows = new WeakMap<FleetItem, Row>();
  let reads = 0;
  // Invalid rows are stored as such, so that --status and the report name them.
  const items = function* (): Generator<FleetItem> {
    const checking = reads++ === 0;
    for (const verdict of checking ? checker.validating(validation) : checker.rows()) {
      if (checking && verdict.kind === 'valid') verp.check(verdict.id);
      const item: FleetItem = { id: verdict.id, recipient: verdict.address, values: verdict.row.fields };
      const stored = verdict.kind === 'invalid' ? { ...item, invalid: verdict.reason } : isSuppressed(extras, verdict.address) ? { ...item, suppressed: true } : item;
      if (checking) rows.set(stored, verdict.row);
      yield stored;
    }
  };
  // A row repeating an earlier one is one item; one reusing an earlier row's id with other values is invalid.
  const onRepeat = ({ item, id, kind }: Repeat): void => {
    const row = rows.get(item);
    if (item.invalid !== undefined || row === undefined) return;
    validation.valid--;
    if (kind === 'duplicate') validation.duplicates++;
    else countInvalid(validation, row, id, repeatedIdReason(id));
  };
  const refused = new Error('the list is refused');
  const afterCheck = (): void => {
    if (validation.invalid > 0 && flags['skip-invalid'] !== true) {
      line(io.stderr, `tclmail bulk: ${listPath}: ${validation.invalid} invalid row${validation.invalid === 1 ? '' : 's'}; nothing was stored:`);
      for (const text of validation.firstInvalid) line(io.stderr, `  ${text}`);
      if (validation.invalid > validation.firstInvalid.length) line(io.stderr, `  and ${validation.invalid - validation.firstInvalid.length} more`);
      line(io.stderr, 'Correct the list, or enqueue the valid rows with --skip-invalid (the others are recorded invalid).');
      throw refused;
    }
    if (!verp.report(io, listPath)) throw refused;
  };
  let result;
  try {
    result = await fleet.enqueueCampaign({
      campaign,
      sender,
      template: { bytes: storeTemplate(template) },
      ...(request.rate !== undefined ? { rate: request.rate } : {}),
      options: {
        format: TEMPLATE_FORMAT,
        retainDays: request.retainDays,
        // Read by every worker: the VERP template and the unsubscribe URL (never its secret).
        ...(extras.verp !== undefined ? { verp: extras.verp } : {}),
        ...(extras.unsubscribe !== undefined ? { unsubscribe: extras.unsubscribe.url } : {}),
      },
      items,
      acceptChanged: flags['accept-changed'] === true,
      // Reached only with --skip-invalid: the first row keeps the id, the later ones are reported invalid.
      clashes: 'skip',
      onRepeat,
      afterCheck,
    });
  } catch (error) {
    if (error === refused) return DATA_ERROR;
    if (error instanceof ListChangedError) {
      line(io.stderr, `tclmail bulk: ${listPath}: ${error.message}`);
      return DATA_ERROR;
    }
    // An id the fleet cannot keep (a space, over 200 characters): the list's fault, found before anything was stored.
    if ((error as { code?: unknown }).code === 'EINVAL') {
      line(io.stderr, `tclmail bulk: ${listPath}: ${(error as Error).message}; nothing was stored`);
      return DATA_ERROR;
    }
    throw error;
  }
  line(
    io.stderr,
    `campaign ${campaign}: ${result.total} item(s): ${result.added} added, ${result.known} already enqueued` +
      `${result.changed > 0 ? `, ${result.changed} changed (accepted)` : ''}${result.invalid > 0 ? `, ${result.invalid} invalid` : ''}${result.suppressed > 0 ? `, ${result.suppressed} suppressed` : ''}` +
      `${validation.duplicates > 0 ? `, ${validation.duplicates} duplicate row(s)` : ''}` +
      `${result.clashes.count > 0 ? `, ${result.clashes.count} row(s) left out (they reuse an earlier row's id)` : ''}; ${result.jobs} job(s) queued`,
  );
  return EXIT.OK;
}
