/**
 * The bulk path at scale: validating a 5,000,000-row list (the validation
 * pass of `tclmail bulk`: one mailbox per row, ids, digests, duplicates) and
 * opening a 5,000,000-line journal (read, checked and indexed). Each is
 * measured in a child process of its own, so that its peak resident memory
 * (process.resourceUsage().maxRSS) is its own; the target is under 200 MB
 * each.
 *
 * Run with `npm run bench:ledger` (`-- --rows N` for another size).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListChecker, templateSender } from '../cli/bulk-list';
import { readTemplate } from '../cli/template';
import { FileLedger } from '../smtp/bulk/journal';
import { formatItemLine, formatManifestLine } from '../smtp/bulk/journal-lines';

interface Figures {
  ms: number;
  /** CPU seconds (user and system): less swayed than the wall clock by other work on the machine. */
  cpuSecs: number;
  maxRssMB: number;
  detail: Record<string, number>;
}

const MB = 1024 * 1024;

function writeInChunks(path: string, lines: (emit: (text: string) => void) => void): number {
  const fd = openSync(path, 'w');
  let pending: string[] = [];
  let size = 0;
  const flush = (): void => {
    const text = pending.join('');
    writeSync(fd, text);
    size += Buffer.byteLength(text);
    pending = [];
  };
  try {
    lines((text) => {
      pending.push(text);
      if (pending.length >= 10_000) flush();
    });
    flush();
  } finally {
    closeSync(fd);
  }
  return size;
}

function child(kind: string, ...args: string[]): Figures {
  const result = spawnSync(process.execPath, [__filename, '--child', kind, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`${kind} failed (${result.status}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as Figures;
}

async function measure(kind: string, args: string[]): Promise<void> {
  const started = process.hrtime.bigint();
  let detail: Record<string, number>;
  if (kind === 'validate') {
    const [list, templatePath] = args;
    const template = readTemplate(templatePath);
    const checker = new ListChecker({ path: list, template, templatePath, sender: templateSender(template), allowEmpty: false });
    const v = checker.validate();
    detail = { rows: v.rows, valid: v.valid, invalid: v.invalid, duplicates: v.duplicates, idTableMB: Math.round(checker.bytes / MB) };
  } else {
    const ledger = await FileLedger.open(args[0]);
    const counts = await ledger.counts();
    detail = { items: ledger.size, sent: counts.sent };
    await ledger.close();
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const usage = process.resourceUsage();
  const cpuSecs = Math.round((usage.userCPUTime + usage.systemCPUTime) / 1e5) / 10;
  process.stdout.write(JSON.stringify({ ms: Math.round(ms), cpuSecs, maxRssMB: Math.round(usage.maxRSS / 1024), detail }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return measure(argv[1], argv.slice(2));
  const rowsAt = argv.indexOf('--rows');
  const rows = rowsAt >= 0 ? Number(argv[rowsAt + 1]) : 5_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-bench-ledger-'));
  try {
    const template = join(dir, 't.json');
    writeInChunks(template, (emit) => emit(JSON.stringify({ from: 'news@example.com', subject: 'Hello {{name}}', text: 'Dear {{name}}, your code is {{code}}.\n' })));
    const list = join(dir, 'list.csv');
    const listBytes = writeInChunks(list, (emit) => {
      emit('email,name,code\n');
      for (let i = 0; i < rows; i++) emit(`user${i}@example.com,User ${i},${i}\n`);
    });
    const journal = join(dir, 'run.jsonl');
    const lines = rows;
    const journalBytes = writeInChunks(journal, (emit) => {
      emit(formatManifestLine({ campaign: 'bench', listDigest: '', total: lines / 2, createdAt: new Date().toISOString() }) + '\n');
      const at = new Date().toISOString();
      // Two lines an item, as a run writes them: `sending`, then the outcome.
      for (let i = 0; i < lines / 2; i++) {
        const id = `m${i}`;
        const digest = createHash('sha256').update(id).digest('hex');
        emit(formatItemLine({ id, digest, state: 'sending', at, recipient: `user${i}@example.com` }) + '\n');
        emit(formatItemLine({ id, digest, state: 'sent', at, recipient: `user${i}@example.com`, code: 250 }) + '\n');
      }
    });
    const validate = child('validate', list, template);
    const open = child('open', journal);
    const row = (name: string, size: number, f: Figures): string =>
      `| ${name} | ${Math.round(size / MB)} MB | ${(f.ms / 1000).toFixed(1)} s | ${f.cpuSecs.toFixed(1)} s | ${f.maxRssMB} MB | ${Object.entries(f.detail).map(([k, v]) => `${k} ${v}`).join(', ')} |`;
    process.stdout.write(
      [
        `Node ${process.version}, ${rows.toLocaleString('en')} rows / lines, each measured in a child process (peak RSS from process.resourceUsage().maxRSS)`,
        '',
        '| workload | file | wall time | CPU time | peak RSS | detail |',
        '| --- | --- | --- | --- | --- | --- |',
        row(`validate a ${rows.toLocaleString('en')}-row list`, listBytes, validate),
        row(`open a ${(lines + 1).toLocaleString('en')}-line journal`, journalBytes, open),
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
