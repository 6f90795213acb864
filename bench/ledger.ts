/**
 * The bulk path at scale: validating a 5,000,000-row list (the validation
 * pass of `tclmail bulk`: one mailbox per row, ids, digests, duplicates) and
 * opening a 5,000,000-line journal (read, checked and indexed). Each is
 * measured in a child process of its own, so that its peak resident memory
 * (process.resourceUsage().maxRSS) is its own; the target is under 200 MB
 * each.
 *
 * With `--send N[,N...]`, it also measures whole sending runs: `tclmail bulk`
 * (validation, sending pass, journal, account pass) of an N-row list against
 * Postfix's smtp-sink (bench/sink.ts when Postfix is not installed), with
 * `--concurrency 8`, each in a child process; the growth of the peak between
 * the smallest and the largest N, per row, is what the run keeps per row.
 *
 * Run with `npm run bench:ledger` (`-- --rows N` for another size, `--rows 0`
 * to skip the validation and journal workloads, `--send 50000,200000,500000`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { ListChecker, templateSender } from '../cli/bulk-list';
import { postfixToolsInstalled, startBenchSink, startSmtpSink } from './servers';
import { readTemplate } from '../cli/template';
import { FileLedger } from '../smtp/bulk/journal';
import { formatItemLine, formatManifestLine } from '../smtp/bulk/journal-lines';

interface Figures {
  ms: number;
  /** CPU seconds (user and system): less swayed than the wall clock by other work on the machine. */
  cpuSecs: number;
  maxRssMB: number;
  maxRssKB: number;
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

/** The same child asynchronously: the parent's event loop keeps serving the bench sink meanwhile. */
function childAsync(kind: string, ...args: string[]): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [__filename, '--child', kind, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    proc.once('error', reject);
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Figures) : reject(new Error(`${kind} failed (${code}):\n${err.slice(-4000)}`))));
  });
}

/** The list and template of the workloads: a name and a code per row, both in the message. */
function writeList(dir: string, rows: number, name: string): { list: string; template: string; bytes: number } {
  const template = join(dir, 't.json');
  writeInChunks(template, (emit) => emit(JSON.stringify({ from: 'news@example.com', subject: 'Hello {{name}}', text: 'Dear {{name}}, your code is {{code}}.\n' })));
  const list = join(dir, name);
  const bytes = writeInChunks(list, (emit) => {
    emit('email,name,code\n');
    for (let i = 0; i < rows; i++) emit(`user${i}@example.com,User ${i},${i}\n`);
  });
  return { list, template, bytes };
}

/** One `tclmail bulk` run in this process, as the command line runs it; stdout holds a line per row not sent. */
async function sendRun(list: string, template: string, journal: string, host: string, port: string): Promise<Record<string, number>> {
  let notSent = 0;
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const byte of chunk) if (byte === 0x0a) notSent++;
      done();
    },
  });
  let stderr = '';
  const errors = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr = (stderr + chunk.toString()).slice(-4000);
      done();
    },
  });
  const argv = [template, list, '--journal', journal, '--servers', host, '--ports', port, '--no-starttls', '--concurrency', '8', '--progress', 'none'];
  // Loaded here only, so that the other workloads' peaks do not count the command's modules.
  const { bulk } = require('../cli/commands/bulk') as typeof import('../cli/commands/bulk');
  const status = await bulk.run(argv, { stdin: new PassThrough(), stdout, stderr: errors, env: process.env });
  if (status !== 0) throw new Error(`tclmail bulk exited with ${status}: ${stderr}`);
  return { notSent, journalMB: Math.round(statSync(journal).size / MB) };
}

async function measure(kind: string, args: string[]): Promise<void> {
  const started = process.hrtime.bigint();
  let detail: Record<string, number>;
  if (kind === 'send') {
    const [list, templatePath, journal, host, port] = args;
    detail = await sendRun(list, templatePath, journal, host, port);
  } else if (kind === 'validate') {
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
  process.stdout.write(JSON.stringify({ ms: Math.round(ms), cpuSecs, maxRssMB: Math.round(usage.maxRSS / 1024), maxRssKB: usage.maxRSS, detail }));
}

function tableRow(name: string, size: number, f: Figures): string {
  return `| ${name} | ${Math.round(size / MB)} MB | ${(f.ms / 1000).toFixed(1)} s | ${f.cpuSecs.toFixed(1)} s | ${f.maxRssMB} MB | ${Object.entries(f.detail).map(([k, v]) => `${k} ${v}`).join(', ')} |`;
}

/** Validating a list and opening a journal of `rows` lines. */
function ledgerWorkloads(dir: string, rows: number): string[] {
  const { list, template, bytes: listBytes } = writeList(dir, rows, 'list.csv');
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
  return [
    `Node ${process.version}, ${rows.toLocaleString('en')} rows / lines, each measured in a child process (peak RSS from process.resourceUsage().maxRSS)`,
    '',
    '| workload | file | wall time | CPU time | peak RSS | detail |',
    '| --- | --- | --- | --- | --- | --- |',
    tableRow(`validate a ${rows.toLocaleString('en')}-row list`, listBytes, validate),
    tableRow(`open a ${(lines + 1).toLocaleString('en')}-line journal`, journalBytes, open),
    '',
  ];
}

/** Whole sending runs of each size, one after another against one sink; the growth per row from the smallest to the largest. */
async function sendWorkloads(dir: string, sizes: number[]): Promise<string[]> {
  const sink = postfixToolsInstalled() ? await startSmtpSink() : await startBenchSink(0);
  const measured: Array<{ rows: number; bytes: number; f: Figures }> = [];
  try {
    for (const rows of sizes) {
      const { list, template, bytes } = writeList(dir, rows, `send-${rows}.csv`);
      const f = await childAsync('send', list, template, join(dir, `send-${rows}.jsonl`), sink.host, String(sink.port));
      measured.push({ rows, bytes, f });
      rmSync(join(dir, `send-${rows}.jsonl`), { force: true });
    }
  } finally {
    await sink.stop();
  }
  const lines = [
    `Sending runs: tclmail bulk LIST --journal FILE --concurrency 8 against ${sink.kind === 'smtp-sink' ? "Postfix's smtp-sink" : 'bench/sink.ts'} on 127.0.0.1, each in a child process`,
    '',
    '| workload | list | wall time | CPU time | peak RSS | detail |',
    '| --- | --- | --- | --- | --- | --- |',
    ...measured.map(({ rows, bytes, f }) => tableRow(`send a ${rows.toLocaleString('en')}-row list`, bytes, { ...f, detail: { ...f.detail, msgPerSec: Math.round(rows / (f.ms / 1000)) } })),
    '',
  ];
  if (measured.length > 1) {
    const first = measured[0];
    const last = measured[measured.length - 1];
    const perRow = ((last.f.maxRssKB - first.f.maxRssKB) * 1024) / (last.rows - first.rows);
    lines.push(`Peak RSS growth from ${first.rows.toLocaleString('en')} to ${last.rows.toLocaleString('en')} rows: ${perRow.toFixed(1)} bytes a row`, '');
  }
  return lines;
}

function sizesOf(text: string | undefined): number[] {
  if (text === undefined) return [];
  const sizes = text.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--send expects row counts separated by commas, not ${JSON.stringify(text)}`);
  return sizes.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return measure(argv[1], argv.slice(2));
  const rowsAt = argv.indexOf('--rows');
  const rows = rowsAt >= 0 ? Number(argv[rowsAt + 1]) : 5_000_000;
  const sendAt = argv.indexOf('--send');
  const sizes = sizesOf(sendAt >= 0 ? argv[sendAt + 1] : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-bench-ledger-'));
  try {
    if (rows > 0) process.stdout.write(ledgerWorkloads(dir, rows).join('\n'));
    if (sizes.length > 0) process.stdout.write((await sendWorkloads(dir, sizes)).join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
