/**
 * `npm run bench:bounces`: parses every sample in ../shared/bounces/eml and
 * prints its agreement with expected.json (entries, status, hard/soft,
 * reason, non-bounces), the parse rate and the slowest sample. With
 * `--verbose`, every disagreement, one line each.
 */
import { join } from 'node:path';
import { parse } from '../bounce';
import { measure, samplesDir } from './bounce-agreement';

const ROOT = join(__dirname, '..', '..');
const dir = samplesDir(ROOT);
if (dir === null) {
  process.stderr.write(`bench:bounces: no sample collection at ${join(ROOT, '..', 'shared', 'bounces')}\n`);
  process.exit(2);
}
const verbose = process.argv.includes('--verbose');
// One warm-up pass, so that the rate measures the parser and not the JIT; then each sample's best of five.
measure(dir);
const result = measure(dir, 5);
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const rows: Array<[string, string, string]> = [
  ['entries (Σ min / Σ max of expected and read)', pct(result.entries), '≥ 97 %'],
  ['status (exact, or class for x.0.9NN and empty)', pct(result.status), '≥ 90 %'],
  ['hard / soft', pct(result.hard), '≥ 90 %'],
  ['reason', pct(result.reason), '≥ 80 %'],
  ['non-bounces recognised', `${result.nonBounces.recognised} / ${result.nonBounces.total}`, 'all'],
  ['auto-replies recognised', `${result.autoReplies.recognised} / ${result.autoReplies.total}`, 'all'],
];
const out = process.stdout;
out.write(`${result.samples.length} samples, ${result.expectedEntries} expected entries\n\n`);
out.write('| measure | agreement | target |\n|---|---|---|\n');
for (const [name, value, target] of rows) out.write(`| ${name} | ${value} | ${target} |\n`);
out.write(`\n${(result.samples.length / (result.totalMs / 1000)).toFixed(0)} messages/s (each sample's best of 5); slowest ${result.slowest.file} ${result.slowest.ms.toFixed(2)} ms (target < 50 ms)\n`);
if (verbose) {
  out.write('\n');
  for (const sample of result.samples) for (const note of sample.notes) out.write(`${sample.file}: ${note}\n`);
}

// Hostile inputs: each must end in time linear in its (capped) size, with bounded output.
const HEAD = 'From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail Returned to Sender\r\n';
const hostile: Array<[string, () => string]> = [
  [
    '1,000 status groups with 4 KB diagnostics, 200 KB of prose',
    () => {
      const groups = Array.from({ length: 1000 }, (_, i) => `Final-Recipient: rfc822; u${i}@b.example\r\nAction: failed\r\nDiagnostic-Code: smtp; ${'x'.repeat(3900)}\r\n\r\n`).join('');
      const prose = `${'word '.repeat(20)}\r\n`.repeat(2000);
      return `${HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${prose}--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n${groups}--b--\r\n`;
    },
  ],
  ['a million prose recipient lines', () => `${HEAD}\r\n${Array.from({ length: 1_000_000 }, (_, i) => `<u${i}@example.net>: 550 5.1.1 user unknown`).join('\n')}\n`],
  ['200,000 spaces before an address', () => `${HEAD}\r\n${' '.repeat(200_000)}x a@b.example\r\n`],
  ['2,000,000 @ signs', () => `${HEAD}\r\n${'@'.repeat(2_000_000)}\r\n`],
  ['a 3 MB header field', () => `${HEAD}X-Big: ${'a'.repeat(3_000_000)}\r\n\r\nbody\r\n`],
];
out.write('\n| hostile input | ms | entries |\n|---|---|---|\n');
for (const [name, make] of hostile) {
  const message = make();
  const started = process.hrtime.bigint();
  const report = parse(message);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  out.write(`| ${name} | ${ms.toFixed(0)} | ${report?.recipients.length ?? 'null'} |\n`);
}
