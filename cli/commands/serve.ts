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
import { readDkimKeys } from '../web/dkim';
import type { DkimKeys } from '../web/dkim';
import { recordEnvelope } from '../web/envelopes';
import { parseListen } from '../web/http';
import type { Listen } from '../web/http';
import { startInboxWeb } from '../web/inbox-server';
import type { InboxWeb } from '../web/inbox-server';
import { BOUNCE_SERVE_FLAGS, BOUNCE_SERVE_HELP, bounceProcessor } from '../serve-bounces';

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
  --web [HOST:]PORT also serve the inbox in a browser, with a JSON API
                    (HOST defaults to 127.0.0.1; 0 picks a free port); the
                    envelope of each message is logged in DIR/envelopes.jsonl
  --web-token       ask for a token even on loopback (always asked for when
                    --web names another interface); it is printed in the URL
  --dkim-keys FILE  verify DKIM signatures with these keys, one per line:
                    SELECTOR._domainkey.DOMAIN v=DKIM1; k=rsa; p=... (DNS is
                    never queried; without a key only the body hash is checked)
${BOUNCE_SERVE_HELP}  -h, --help        show this help

Output:
  listening on HOST:PORT ...
  web: http://HOST:PORT/                              with --web
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
        web: { type: 'string' },
        'web-token': { type: 'boolean' },
        'dkim-keys': { type: 'string' },
        ...BOUNCE_SERVE_FLAGS,
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
    const webText = stringFlag(flags, 'web');
    const listen: Listen | undefined = webText === undefined ? undefined : parseListen('web', webText);
    const keysFile = stringFlag(flags, 'dkim-keys');
    const dkimKeys: DkimKeys | undefined = keysFile === undefined ? undefined : readDkimKeys(keysFile);
    if (listen === undefined && (flags['web-token'] === true || dkimKeys !== undefined)) {
      throw new UsageError('--web-token and --dkim-keys apply to the inbox page: add --web [HOST:]PORT');
    }

    const bounces = await bounceProcessor(flags, io);
    let web: InboxWeb | undefined;
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
        onMessage: (message) => {
          // Logged before the client's 250: a message in new/ always has its envelope on record.
          const envelope = listen !== undefined ? recordEnvelope(dir, message) : undefined;
          line(io.stdout, describeMessage(message));
          if (web !== undefined) void web.captured(message, envelope);
          bounces?.captured(message);
        },
      });
      if (listen !== undefined) {
        web = await startInboxWeb({ listen, dir: server.dir, requireToken: flags['web-token'] === true, ...(dkimKeys ? { dkimKeys } : {}) });
      }
    } catch (error) {
      line(io.stderr, `tclmail serve: cannot start: ${(error as Error).message}`);
      await server?.close();
      await bounces?.close();
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
    if (web !== undefined) line(io.stdout, `web: ${web.url}`);
    if (bounces !== undefined) line(io.stdout, `bounces: ${bounces.describe}`);

    const running = server;
    const page = web;
    return new Promise<number>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void Promise.all([running.close(), page?.close()])
          .then(() => bounces?.close())
          .then(() => done(EXIT.OK));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
