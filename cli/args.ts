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
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    const guess = unknown === undefined ? undefined : closestFlag(unknown.replace(/^-+/, ''), Object.keys(specs));
    throw new UsageError(guess === undefined ? message : `${message}: did you mean --${guess}?`);
  }
  if (parsed.positionals.length < positionals.min) {
    throw new UsageError(positionals.min === 1 ? 'missing argument' : `expected at least ${positionals.min} arguments`);
  }
  if (parsed.positionals.length > positionals.max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  }
  return { flags: parsed.values, args: parsed.positionals };
}

/** The flag a mistyped name most likely meant: a prefix of it (`--server` for `--servers`), or one or two edits away. */
export function closestFlag(name: string, names: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefixed = names.filter((n) => n.startsWith(lower) || lower.startsWith(n));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  // One more than the edits allowed: a candidate must come strictly closer, so the first of equals wins.
  let bestDistance = Math.min(2, Math.floor(lower.length / 3)) + 1;
  for (const candidate of names) {
    const distance = editDistance(lower, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance; flag names are short, so the plain table is enough. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
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
// Then the bidirectional controls (marks, embeddings, overrides, isolates) and the line and paragraph
// separators: a terminal shows them by reordering or breaking the text, so `Invoice \u202Ecod.exe`
// would read as `Invoice exe.doc`.
const TERMINAL_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * `text` safe to print on a terminal: each control character but TAB is shown
 * as `\xNN` (`\u{NNNN}` above U+00FF), so that text from a message or a client
 * (a decoded header, an envelope address) cannot move the cursor, rewrite the
 * screen, retitle it or reorder what the reader sees.
 */
export function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u{${code.toString(16)}}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** Writes `text` and a line end. */
export function line(stream: Writable, text: string): void {
  stream.write(`${text}\n`);
}

/** One command of the program (its one-line summary is in the command list, cli/tclmail.ts, so listing commands loads none). */
export interface Command {
  name: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command with the arguments that follow its name; resolves to the exit status. */
  run(argv: string[], io: Io): Promise<number>;
}
