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
import { bulk } from './commands/bulk';
import { inspect } from './commands/inspect';
import { send } from './commands/send';
import { serve } from './commands/serve';
import { worker } from './commands/worker';

export const COMMANDS: readonly Command[] = [send, bulk, worker, serve, inspect];

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
    io.stdout.write(topic ? topic.help : overview());
    return EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    line(io.stdout, version());
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    line(io.stderr, `tclmail: unknown command ${JSON.stringify(name)}`);
    io.stderr.write(overview());
    return EXIT.USAGE;
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

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (status) => {
      // Let stdout drain before leaving: a pipe reader must get every line.
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(`tclmail: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT.FAILED;
    },
  );
}
