/**
 * `tclmail serve`: the capture server as a program. Prints where it listens,
 * then one line per stored message, until it is stopped with SIGINT or SIGTERM.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, integerFlag, line, listFlag, parseFlags, printable, stringFlag, UsageError } from '../args';
import type { Command, Io } from '../args';
import { startCaptureServer } from '../serve';
import { boundedLine, DEFAULT_LIMITS, recipientsShown } from '../serve-limits';
import type { CapturedMessage } from '../serve';

const HELP = `Usage: tclmail serve [options]

Runs an SMTP capture server for development and tests. Every message it
accepts is stored as an .eml file in a Maildir-style folder (written in
DIR/tmp, then renamed into DIR/new) instead of being delivered, and one line
per message is printed. Stop it with Ctrl-C (SIGINT) or SIGTERM.

Options:
  --dir DIR         folder for received messages (default: ./mail)
  --host HOST       interface to listen on (default: 127.0.0.1)
  --port N          port to listen on; 0 picks a free one (default: 2525)
  --starttls        offer STARTTLS with a certificate generated at start;
                    its PEM is written to DIR/capture-cert.pem for clients
  --auth            offer AUTH (PLAIN, LOGIN, CRAM-MD5), accepting any user
  --refuse ADDR     refuse this recipient with 550 5.1.1 (repeatable)
  --size BYTES      refuse messages larger than this (advertised with SIZE);
                    no byte past the limit reaches the disk
  --max-clients N   connections at once (default ${DEFAULT_LIMITS.maxClients})
  --max-recipients N  recipients per message, then 452 (default ${DEFAULT_LIMITS.maxRecipients})
  --command-secs N  seconds a command line may take to arrive, however
                    slowly it dribbles in (default ${DEFAULT_LIMITS.commandSecs})
  --idle-secs N     seconds of silence before a connection is closed
                    (default ${DEFAULT_LIMITS.idleSecs})
  -h, --help        show this help

Output:
  listening on HOST:PORT ...
  TIME <sender> -> <rcpt>, <rcpt> (N bytes) PATH      one line per message

Example:
  tclmail serve --dir ./mail --port 0 --refuse nobody@example.com
`;

/** One line per message: time, envelope, size, then the file (last, as it may hold spaces). The client's words are made printable. */
export function describeMessage(message: CapturedMessage, when = new Date()): string {
  const to = recipientsShown(message.to);
  const extras = [message.secure ? 'TLS' : '', message.user !== undefined ? `user ${message.user}` : ''].filter(Boolean);
  const detail = [`${message.size} bytes`, ...extras].join(', ');
  return boundedLine(printable(`${when.toISOString()} <${message.from}> -> ${to} (${detail}) ${message.path}`));
}

export const serve: Command = {
  name: 'serve',
  summary: 'run an SMTP capture server that stores messages as .eml files',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { flags } = parseFlags(
      argv,
      {
        dir: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        starttls: { type: 'boolean' },
        auth: { type: 'boolean' },
        refuse: { type: 'string', multiple: true },
        size: { type: 'string' },
        'max-clients': { type: 'string' },
        'max-recipients': { type: 'string' },
        'command-secs': { type: 'string' },
        'idle-secs': { type: 'string' },
      },
      { min: 0, max: 0 },
    );
    const dir = resolve(stringFlag(flags, 'dir') ?? 'mail');
    const refused = new Set(listFlag(flags, 'refuse', true).map((address) => address.toLowerCase()));
    const port = integerFlag(flags, 'port', 0, 65535) ?? 2525;
    const size = integerFlag(flags, 'size', 1);
    const host = stringFlag(flags, 'host') ?? '127.0.0.1';
    if (host.trim() === '') throw new UsageError('--host "" would listen on every interface: name one, e.g. --host 127.0.0.1');
    const limits = {
      maxClients: integerFlag(flags, 'max-clients', 1, 100000),
      maxRecipients: integerFlag(flags, 'max-recipients', 1, 1000000),
      commandSecs: integerFlag(flags, 'command-secs', 1, 86400),
      idleSecs: integerFlag(flags, 'idle-secs', 1, 86400),
    };
    const starttls = flags.starttls === true;
    const auth = flags.auth === true;

    let server;
    try {
      server = await startCaptureServer({
        dir,
        host,
        port,
        ...Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)),
        starttls,
        auth,
        ...(size !== undefined ? { size } : {}),
        refuse: (address) => refused.has(address.toLowerCase()),
        onMessage: (message) => line(io.stdout, describeMessage(message)),
      });
    } catch (error) {
      line(io.stderr, `tclmail serve: cannot start: ${(error as Error).message}`);
      return EXIT.FAILED;
    }

    const features = [starttls ? 'STARTTLS' : '', auth ? 'AUTH (any user)' : ''].filter(Boolean);
    const hostPart = server.host.includes(':') ? `[${server.host}]` : server.host;
    line(io.stdout, `listening on ${hostPart}:${server.port}${features.length ? ` with ${features.join(' and ')}` : ''}, storing messages in ${join(server.dir, 'new')}`);
    if (server.cert !== undefined) {
      const certPath = join(server.dir, 'capture-cert.pem');
      writeFileSync(certPath, server.cert);
      line(io.stdout, `certificate: ${certPath}`);
    }
    if (refused.size > 0) line(io.stdout, `refusing: ${[...refused].join(', ')}`);

    const running = server;
    return new Promise<number>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        running.close().then(() => done(EXIT.OK));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
