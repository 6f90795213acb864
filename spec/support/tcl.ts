/**
 * Runs real Tcllib for the differential tests. When tclsh or Tcllib is missing the
 * suites that need it skip with a message (CI installs Tcllib, so they run there).
 */
import { spawnSync } from 'node:child_process';

let cached: boolean | undefined;

/** True when `tclsh` runs and `package require mime; package require smtp` succeed. */
export function hasTcllib(): boolean {
  if (cached === undefined) {
    const probe = spawnSync('tclsh', [], { input: 'package require mime\npackage require smtp\nputs ok\n', encoding: 'utf8', timeout: 10000 });
    cached = probe.status === 0 && probe.stdout.trim() === 'ok';
    if (!cached) {
      console.warn('Tcllib differential tests skipped: tclsh with Tcllib (mime, smtp) is not installed (apt-get install -y tcllib).');
    }
  }
  return cached;
}

/** `describe` when Tcllib is there, `describe.skip` (with the warning above) when it is not. */
export const describeWithTcllib: jest.Describe = ((name: string, fn: () => void) =>
  hasTcllib() ? describe(name, fn) : describe.skip(`${name} (skipped: Tcllib not installed)`, fn)) as jest.Describe;

/**
 * Runs a Tcl script with mime and smtp loaded and returns its standard output as
 * bytes (binary-safe: `fconfigure stdout -translation binary` is up to the script).
 * Throws with Tcl's error text when the script fails.
 */
export function runTcl(script: string, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Buffer {
  const result = spawnSync('tclsh', [], {
    input: `package require mime\npackage require smtp\n${script}\n`,
    timeout: options.timeoutMs ?? 20000,
    env: { ...process.env, ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`tclsh failed (${result.status}): ${result.stderr.toString()}`);
  }
  return result.stdout;
}

/** Quotes a JavaScript string as one Tcl word (braces would break on unbalanced input). */
export function tclQuote(text: string): string {
  return '"' + text.replace(/[\\$\[\]"{}]/g, (c) => '\\' + c).replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t') + '"';
}
