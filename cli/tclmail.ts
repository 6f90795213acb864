#!/usr/bin/env node
/**
 * The `tclmail` program: a thin layer over the library. It finds the command,
 * lets the command parse its flags and call the library, and turns the outcome
 * into an exit status (see {@link EXIT}).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXIT, line, processIo, UsageError } from './args';
import type { Command, Io } from './args';

/** A command as the program lists it; its module (and what that module needs) loads only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Command;
}

// Each command loads on first use (require), so `tclmail --help` or `tclmail send` never loads the capture server's or the fleet's packages.
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'send', summary: 'send a message (from flags or an .eml file) and report refused recipients', load: () => (require('./commands/send') as typeof import('./commands/send')).send },
  { name: 'bulk', summary: 'send a template to every row of a CSV or JSON Lines list (journal, resume, dry run, report, status)', load: () => (require('./commands/bulk') as typeof import('./commands/bulk')).bulk },
  { name: 'worker', summary: 'send for every campaign in a Redis (fleet mode) until SIGTERM', load: () => (require('./commands/worker') as typeof import('./commands/worker')).worker },
  { name: 'serve', summary: 'run an SMTP capture server that stores messages as .eml files', load: () => (require('./commands/serve') as typeof import('./commands/serve')).serve },
  { name: 'inspect', summary: 'print the MIME tree of an .eml file', load: () => (require('./commands/inspect') as typeof import('./commands/inspect')).inspect },
  { name: 'bounces', summary: 'read bounces and complaints; keep a suppression list', load: () => (require('./commands/bounces') as typeof import('./commands/bounces')).bounces },
  { name: 'unsubscribe', summary: 'answer one-click unsubscribe POSTs (RFC 8058) and keep the suppression list', load: () => (require('./commands/unsubscribe') as typeof import('./commands/unsubscribe')).unsubscribe },
];

/** Packages a command needs that a library install may leave out (optionalDependencies). */
const OPTIONAL_PACKAGES = ['smtp-server', 'selfsigned', 'bullmq', 'ioredis'];

/** Loads a command; a missing optional package becomes an error that says what to install. */
export function loadCommand(entry: CommandEntry): Command {
  try {
    return entry.load();
  } catch (error) {
    const missing = OPTIONAL_PACKAGES.find((name) => (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`));
    if (missing === undefined) throw error;
    throw new Error(`tclmail ${entry.name} needs the optional package ${missing}, which is not installed: npm install ${OPTIONAL_PACKAGES.filter((n) => (entry.name === 'serve' ? n === 'smtp-server' || n === 'selfsigned' : n === missing)).join(' ')}`);
  }
}

function version(): string {
  // The same code runs from cli/ (tests) and dist/cli/ (installed): look upwards.
  for (let dir = __dirname, i = 0; i < 4; dir = dirname(dir), i += 1) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tclmail') return pkg.version ?? 'unknown';
    }
  }
  return 'unknown';
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: tclmail <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'tclmail <command> --help' for a command's options.",
    'Exit status: 0 done, 1 some recipients refused, 2 failed / not sent,',
    '3 outcome unknown (may have been delivered), 64 usage error.',
    '',
  ].join('\n');
}

/** Runs the program with the arguments after `tclmail`; resolves to the exit status. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(overview());
    return EXIT.USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? loadCommand(topic).help : overview());
    return EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    line(io.stdout, version());
    return EXIT.OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    line(io.stderr, `tclmail: unknown command ${JSON.stringify(name)}`);
    io.stderr.write(overview());
    return EXIT.USAGE;
  }
  let command: Command;
  try {
    command = loadCommand(entry);
  } catch (error) {
    line(io.stderr, (error as Error).message);
    return EXIT.FAILED;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help);
    return EXIT.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      line(io.stderr, `tclmail ${command.name}: ${error.message}`);
      line(io.stderr, `Run 'tclmail ${command.name} --help' for usage.`);
      return EXIT.USAGE;
    }
    line(io.stderr, `tclmail ${command.name}: ${(error as Error)?.message ?? String(error)}`);
    return EXIT.FAILED;
  }
}

/** How long the process may take to end by itself once a command has returned. */
const EXIT_GRACE_MS = 2000;

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (status) => {
      // Let stdout drain before leaving: a pipe reader must get every line.
      process.exitCode = status;
      // The command is over; a client library that left a timer behind (BullMQ after a Redis outage, bullmq#4656)
      // must not keep the process alive. Unreferenced, so it never delays a process that ends by itself.
      setTimeout(() => process.exit(status), EXIT_GRACE_MS).unref();
    },
    (error: unknown) => {
      process.stderr.write(`tclmail: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT.FAILED;
    },
  );
}
