/**
 * `npm run bench:bounces`: parses every sample in ../shared/bounces/eml and
 * prints its agreement with expected.json (entries, status, hard/soft,
 * reason, non-bounces), the parse rate and the slowest sample. With
 * `--verbose`, every disagreement, one line each.
 */
import { join } from 'node:path';
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
