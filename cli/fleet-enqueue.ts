/**
 * `tclmail bulk TEMPLATE LIST --redis URL --campaign NAME`: the list is
 * checked by the rules of a local run, then the campaign is stored (the
 * template with its attachments' bytes, once) and its items enqueued. A
 * second run with the same list adds nothing; a changed item is refused
 * before anything is stored (exit 65) unless --accept-changed.
 */
import { parseMailboxList } from '../lib/address';
import type { Fleet, FleetItem } from '../smtp/bulk/fleet';
import { EXIT, line, stringFlag, UsageError } from './args';
import type { Flags, Io } from './args';
import { readRecipients } from './recipients';
import { missingFields, readTemplate } from './template';
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
    const [mailbox, ...more] = parseMailboxList(given);
    if (mailbox === undefined || mailbox.error !== '' || more.length > 0) throw new UsageError(`--originator expects one address, not ${JSON.stringify(given)}`);
    return mailbox.address;
  }
  const from = template.root.headers.find(([name]) => name.toLowerCase() === 'from')?.[1];
  if (from === undefined) throw new UsageError('the template has no From field: give one, or the envelope sender with --originator ADDR');
  if (/\{\{/.test(from)) throw new UsageError('the template\'s From field has a placeholder, so it is no single envelope sender: give --originator ADDR');
  const [mailbox] = parseMailboxList(from);
  if (mailbox === undefined || mailbox.error !== '') throw new UsageError(`the template's From field ${JSON.stringify(from)} holds no address: fix it, or give --originator ADDR`);
  return mailbox.address;
}

/** Validates, stores and enqueues; resolves to the exit status. */
export async function enqueueList(fleet: Fleet, request: EnqueueRequest): Promise<number> {
  const { flags, io, campaign } = request;
  const template = readTemplate(request.templatePath);
  const sender = senderOf(template, flags);
  const recipients = readRecipients(request.listPath);
  for (const r of recipients) {
    const missing = missingFields(template, r.fields);
    if (missing.length > 0) throw new UsageError(`${request.listPath}: row ${r.row} (line ${r.line}, id ${r.id}) has no field ${JSON.stringify(missing[0])}, which the template uses as {{${missing[0]}}}`);
  }
  const items = (): Iterable<FleetItem> =>
    recipients.map((r) => ({ ...(r.fields.id !== undefined && r.fields.id.trim() !== '' ? { id: r.fields.id.trim() } : {}), recipient: r.email, values: r.fields }));
  const result = await fleet.enqueueCampaign({
    campaign,
    sender,
    template: { bytes: storeTemplate(template) },
    ...(request.rate !== undefined ? { rate: request.rate } : {}),
    options: { format: TEMPLATE_FORMAT, retainDays: request.retainDays },
    items,
    acceptChanged: flags['accept-changed'] === true,
  });
  line(
    io.stderr,
    `campaign ${campaign}: ${result.total} item(s): ${result.added} added, ${result.known} already enqueued` +
      `${result.changed > 0 ? `, ${result.changed} changed (accepted)` : ''}${result.invalid > 0 ? `, ${result.invalid} invalid` : ''}` +
      `${result.duplicates.count > 0 ? `, ${result.duplicates.count} duplicate row(s)` : ''}; ${result.jobs} job(s) queued`,
  );
  return EXIT.OK;
}
