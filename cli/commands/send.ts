/**
 * `tclmail send`: one message, from flags or from an .eml file, through
 * `smtp.sendmessage`. The exit status says what happened to it: 0 every
 * recipient accepted, 1 sent but some refused, 2 not sent, 3 outcome unknown,
 * 64 a usage error (nothing was sent).
 */
import { readFileSync } from 'node:fs';
import { InvalidInputError, MimeError, OptionError, SmtpError } from '../../lib/errors';
import type { Rejected } from '../../lib/errors';
import * as mime from '../../mime';
import * as smtp from '../../smtp';
import { EXIT, integerFlag, line, listFlag, parseFlags, stringFlag, UsageError } from '../args';
import type { Command, Flags, Io } from '../args';
import { compose, requireReadableFile, splitHeader } from '../compose';

const HELP = `Usage: tclmail send [options]

Sends one message with smtp.sendmessage and prints the refused recipients.
The message is built from the flags below, or read from an .eml file (--eml).

Message:
  --from ADDR            From field (also the envelope sender unless --originator)
  --to ADDR              To field; repeatable, or comma separated
  --cc ADDR              Cc field; repeatable, or comma separated
  --bcc ADDR             blind recipients (never in the transmitted header)
  --subject TEXT         Subject field
  --body TEXT            the text body
  --body-file FILE       the text body from a file ('-' for standard input);
                         without --body or --body-file, standard input is read
  --html FILE            an HTML version of the body (multipart/alternative)
  --attach FILE          attach a file; repeatable
  --header 'Key: value'  add a header field; repeatable
  --eml FILE             send this existing message instead (only --header,
                         --originator and --recipients may change it)

Sending (the options of smtp.sendmessage):
  --servers A,B          servers tried in order (default: localhost)
  --ports 25,587         ports paired with the servers; the last one repeats
  --client NAME          name sent in EHLO/HELO
  --queue                accepted for Tcl scripts and ignored (the XQUE/QUED
                         verbs it named are non-standard)
  --atleastone           send when at least one recipient is accepted
                         (otherwise any refused recipient cancels the send)
  --originator ADDR      envelope sender ('' for <>)
  --recipients A,B       envelope recipients instead of To/Cc/Bcc
  --starttls             use STARTTLS when offered (the default)
  --no-starttls          never use STARTTLS
  --ca FILE              trust this CA certificate (PEM) for TLS
  --tlsimport            implicit TLS from the first byte (port 465)
  --username USER        authenticate as USER; the password comes from
  --password-file FILE   this file (first line), or from the TCLMAIL_PASSWORD
                         environment variable; never from a flag
  --maxsecs N            time limit per server, seconds (default 120)
  --debug                write the SMTP dialogue to standard error
  -h, --help             show this help

Output: one line per refused recipient on standard output:
  refused ADDRESS CODE DIAGNOSTIC

Exit status: 0 all recipients accepted; 1 sent, some refused; 2 not sent;
3 no final reply after the end of data (the message may have been
delivered: do not resend blindly); 64 usage error.

Examples:
  echo 'The backup finished.' | tclmail send --from cron@example.com \\
      --to ops@example.com --subject 'Backup done' --servers mail.example.com
  tclmail send --eml report.eml --servers 127.0.0.1 --ports 2525
`;

/** The flags that say how and where to send, shared with `bulk` (sendOptions reads them). */
export const SENDING_FLAGS = {
  servers: { type: 'string', multiple: true },
  ports: { type: 'string', multiple: true },
  client: { type: 'string' },
  originator: { type: 'string' },
  starttls: { type: 'boolean' },
  'no-starttls': { type: 'boolean' },
  ca: { type: 'string' },
  tlsimport: { type: 'boolean' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  password: { type: 'string' },
  maxsecs: { type: 'string' },
  debug: { type: 'boolean' },
} as const;

const FLAGS = {
  from: { type: 'string' },
  to: { type: 'string', multiple: true },
  cc: { type: 'string', multiple: true },
  bcc: { type: 'string', multiple: true },
  subject: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  html: { type: 'string' },
  attach: { type: 'string', multiple: true },
  header: { type: 'string', multiple: true },
  eml: { type: 'string' },
  ...SENDING_FLAGS,
  queue: { type: 'boolean' },
  atleastone: { type: 'boolean' },
  recipients: { type: 'string', multiple: true },
} as const;

async function readAll(stream: Io['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function bodyText(flags: Flags, io: Io): Promise<string> {
  const body = stringFlag(flags, 'body');
  const file = stringFlag(flags, 'body-file');
  if (body !== undefined && file !== undefined) throw new UsageError('give the body with --body or --body-file, not both');
  if (body !== undefined) return body;
  if (file !== undefined && file !== '-') {
    requireReadableFile('--body-file', file);
    return readFileSync(file, 'utf8');
  }
  if (file === undefined && io.stdin.isTTY) line(io.stderr, 'tclmail send: reading the body from standard input (end it with Ctrl-D)');
  return readAll(io.stdin);
}

function password(flags: Flags, io: Io): string | undefined {
  if (flags.password !== undefined) {
    throw new UsageError('--password is not accepted: a password in a flag shows in ps and in shell history; use --password-file FILE or TCLMAIL_PASSWORD');
  }
  const file = stringFlag(flags, 'password-file');
  if (file !== undefined) {
    requireReadableFile('--password-file', file);
    return readFileSync(file, 'utf8').split(/\r?\n/)[0];
  }
  return io.env.TCLMAIL_PASSWORD;
}

/** The sendmessage options the flags ask for. */
export function sendOptions(flags: Flags, io: Io, header: Array<[string, string]>): smtp.SendMessageOptions {
  const ports = listFlag(flags, 'ports', true).map((text) => {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new UsageError(`--ports: ${JSON.stringify(text)} is not a TCP port`);
    return Number(text);
  });
  if (flags.starttls === true && flags['no-starttls'] === true) throw new UsageError('--starttls and --no-starttls contradict each other');
  const servers = listFlag(flags, 'servers', true);
  const recipients = listFlag(flags, 'recipients', true);
  const username = stringFlag(flags, 'username');
  const secret = password(flags, io);
  // TCLMAIL_PASSWORD may be exported for other runs; only a password file asked for here needs a user.
  if (flags['password-file'] !== undefined && username === undefined) throw new UsageError('--password-file was given but no --username');
  const ca = stringFlag(flags, 'ca');
  if (ca !== undefined) requireReadableFile('--ca', ca);
  const maxsecs = integerFlag(flags, 'maxsecs', 1);
  const client = stringFlag(flags, 'client');
  const originator = stringFlag(flags, 'originator');
  return {
    ...(servers.length > 0 ? { servers } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(client !== undefined ? { client } : {}),
    ...(flags.queue === true ? { queue: true } : {}),
    atleastone: flags.atleastone === true,
    ...(originator !== undefined ? { originator } : {}),
    ...(recipients.length > 0 ? { recipients: recipients.join(',') } : {}),
    ...(header.length > 0 ? { header } : {}),
    usetls: flags['no-starttls'] !== true,
    ...(flags.tlsimport === true ? { tlsimport: true } : {}),
    ...(ca !== undefined ? { tls: { ca: readFileSync(ca, 'utf8') } } : {}),
    ...(username !== undefined ? { username, password: secret ?? '' } : {}),
    ...(maxsecs !== undefined ? { maxsecs } : {}),
    ...(flags.debug === true ? { debug: (text: string) => line(io.stderr, text) } : {}),
  };
}

const MESSAGE_FLAGS = ['from', 'to', 'cc', 'bcc', 'subject', 'body', 'body-file', 'html', 'attach'];

/** The token to send, and the header pairs that go to sendmessage rather than onto the part. */
async function message(flags: Flags, io: Io): Promise<{ token: mime.Token; header: Array<[string, string]> }> {
  const headers = listFlag(flags, 'header').map(splitHeader);
  const eml = stringFlag(flags, 'eml');
  if (eml !== undefined) {
    const clash = MESSAGE_FLAGS.filter((name) => flags[name] !== undefined);
    if (clash.length > 0) throw new UsageError(`--eml sends the file as it is; it cannot be combined with ${clash.map((n) => `--${n}`).join(', ')}`);
    requireReadableFile('--eml', eml);
    // The file's own fields stay as they are; --header fields are added on the way out.
    return { token: mime.initialize({ file: eml }), header: headers };
  }
  const token = compose({
    from: stringFlag(flags, 'from'),
    to: listFlag(flags, 'to'),
    cc: listFlag(flags, 'cc'),
    bcc: listFlag(flags, 'bcc'),
    subject: stringFlag(flags, 'subject'),
    body: await bodyText(flags, io),
    html: stringFlag(flags, 'html'),
    attach: listFlag(flags, 'attach'),
    headers,
  });
  return { token, header: [] };
}

function printRefused(io: Io, rejected: readonly Rejected[]): void {
  for (const [address, code, diagnostic] of rejected) line(io.stdout, `refused ${address} ${code} ${diagnostic}`);
}

/** Input the library refused before any I/O: the caller's mistake, so a usage error. */
export function isInputError(error: unknown): boolean {
  return error instanceof OptionError || error instanceof InvalidInputError || error instanceof MimeError;
}

/**
 * The library's words for its options (`-recipients`, `-header "To ..."`) put
 * as this program's flags, so that a usage error tells a shell user what to type.
 */
export function inCliWords(message: string): string {
  return message
    .replace(/give -recipients or -header "(Resent-)?To \.\.\." \((?:Resent-)?Cc or (?:Resent-)?Bcc also count\)/, 'give --to, --cc, --bcc or --recipients')
    .replace(/-header "(?:Resent-)?From \.\.\."/g, '--from')
    .replace(/(^|[\s(])-(servers|ports|recipients|originator|client|maxsecs|header|atleastone|username|password)\b/g, '$1--$2');
}

/** A usage error from input the library refused, in this program's words. */
export function usageFrom(error: unknown): UsageError {
  return new UsageError(inCliWords((error as Error).message));
}

export const send: Command = {
  name: 'send',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags } = parseFlags(argv, FLAGS, { min: 0, max: 0 });
    let built;
    let options: smtp.SendMessageOptions;
    try {
      built = await message(flags, io);
      options = sendOptions(flags, io, built.header);
    } catch (error) {
      if (built) mime.finalize(built.token, { subordinates: 'all' });
      if (isInputError(error)) throw usageFrom(error);
      throw error;
    }

    try {
      const rejected = await smtp.sendmessage(built.token, options);
      printRefused(io, rejected);
      return rejected.length > 0 ? EXIT.SOME_REFUSED : EXIT.OK;
    } catch (error) {
      if (!(error instanceof SmtpError)) {
        if (isInputError(error)) throw usageFrom(error);
        throw error;
      }
      printRefused(io, error.rejected);
      const uncertain = error.code === 'EUNCERTAIN';
      line(io.stderr, `tclmail send: ${uncertain ? 'outcome unknown' : 'not sent'}: ${error.message}`);
      for (const a of error.attempts) {
        line(io.stderr, `  ${a.server}:${a.port} ${a.stage}${a.code === null ? '' : ` ${a.code}`} ${a.diagnostic}`);
      }
      return uncertain ? EXIT.UNCERTAIN : EXIT.FAILED;
    } finally {
      mime.finalize(built.token, { subordinates: 'all' });
    }
  },
};
