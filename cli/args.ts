/**
 * Command-line plumbing shared by the commands: exit statuses, the usage
 * error, flag parsing (Node's `util.parseArgs`, strict) and the streams a
 * command writes to, passed in so that a command can run inside a test.
 */
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';

/** Exit statuses (64 is `EX_USAGE` of BSD's sysexits.h). */
export const EXIT = {
  /** Done; for `send`: every recipient accepted. */
  OK: 0,
  /** `send`: the message was sent, some recipients were refused. */
  SOME_REFUSED: 1,
  /** Nothing was done: for `send`, the message was not sent; otherwise the command failed. */
  FAILED: 2,
  /** `send`: the end of data went out but no final reply came back; the message may have been delivered. */
  UNCERTAIN: 3,
  /** Bad flags or arguments, or input that cannot be used (a missing file, a malformed header). */
  USAGE: 64,
} as const;

/** What a command reads and writes; the real process's by default. */
export interface Io {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export function processIo(): Io {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** A mistake in how the program was called: reported with a hint and exit status 64. */
export class UsageError extends Error {
  readonly exitCode = EXIT.USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagSpecs = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** The parsed flags: strings, booleans, or arrays for repeatable flags. */
export type Flags = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Parses `argv` strictly: an unknown flag, a flag without its value or a stray argument is a {@link UsageError}. */
export function parseFlags(argv: string[], specs: FlagSpecs, positionals: { min: number; max: number }): { flags: Flags; args: string[] } {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: specs, strict: true, allowPositionals: positionals.max > 0 });
  } catch (error) {
    // parseArgs' messages name the flag; drop its advice about '--' which does not apply here.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (parsed.positionals.length < positionals.min) {
    throw new UsageError(positionals.min === 1 ? 'missing argument' : `expected at least ${positionals.min} arguments`);
  }
  if (parsed.positionals.length > positionals.max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  }
  return { flags: parsed.values, args: parsed.positionals };
}

/** A string flag's value, or undefined. */
export function stringFlag(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** Every value of a repeatable string flag, each also split on commas when `commas` is set. */
export function listFlag(flags: Flags, name: string, commas = false): string[] {
  const value = flags[name];
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const strings = values.filter((v): v is string => typeof v === 'string');
  if (!commas) return strings;
  return strings.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** A whole number flag, refused as a usage error when it is not one. */
export function integerFlag(flags: Flags, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} expects a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}

// C0 controls but TAB, DEL and the C1 controls: a terminal acts on them (ESC starts a control sequence).
const TERMINAL_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/**
 * `text` safe to print on a terminal: each control character but TAB is shown
 * as `\xNN`, so that text from a message or a client (a decoded header, an
 * envelope address) cannot move the cursor, rewrite the screen or retitle it.
 */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Writes `text` and a line end. */
export function line(stream: Writable, text: string): void {
  stream.write(`${text}\n`);
}

/** One command of the program. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command with the arguments that follow its name; resolves to the exit status. */
  run(argv: string[], io: Io): Promise<number>;
}
