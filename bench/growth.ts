/**
 * Parser growth (issue 7): the work of parseaddress, the MIME parser and the
 * SMTP reply parser must grow linearly with their input, including inputs
 * built to make a careless parser backtrack or rescan (docs/security.md, A9, A11,
 * A12). Each hostile input is measured at four sizes, n, 2n, 4n and 8n; the
 * time per input kilobyte should stay flat, so the last column (time per KB
 * at 8n over time per KB at n) stays near 1 where a quadratic parser would
 * show about 8.
 *
 * Run with `npm run bench:growth` (writes the table into docs/benchmarks.md
 * between its growth markers) or `npm run bench:growth -- --no-write`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseaddress } from '../mime/address';
import { parseBuffer } from '../mime/parse/message';
import { ReplyAssembler } from '../smtp/protocol/reply';

interface Case {
  name: string;
  /** The input at scale k (k = 1, 2, 4, 8). */
  make: (k: number) => string | Buffer;
  run: (input: string | Buffer) => unknown;
}

const text = (input: string | Buffer): string => (typeof input === 'string' ? input : input.toString('latin1'));
const bytes = (input: string | Buffer): Buffer => (typeof input === 'string' ? Buffer.from(input, 'latin1') : input);

function multipart(parts: number): Buffer {
  const chunks = ['Content-Type: multipart/mixed; boundary="b"\r\n\r\n'];
  for (let i = 0; i < parts; i++) chunks.push('--b\r\nContent-Type: text/plain\r\n\r\nx\r\n');
  chunks.push('--b--\r\n');
  return Buffer.from(chunks.join(''));
}

function nested(depth: number): Buffer {
  let body = 'Content-Type: text/plain\r\n\r\nleaf\r\n';
  for (let i = depth; i > 0; i--) {
    body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}--b${i}--\r\n`;
  }
  return Buffer.from(body);
}

const CASES: Case[] = [
  { name: 'parseaddress: 10,000 k addresses in one list', make: (k) => Array.from({ length: 10000 * k }, (_, i) => `u${i}@example.org`).join(', '), run: (s) => parseaddress(text(s)) },
  { name: 'parseaddress: nested comments, 160 k levels', make: (k) => 'a@b.c ' + '('.repeat(160000 * k) + ')'.repeat(160000 * k), run: (s) => parseaddress(text(s)) },
  { name: 'parseaddress: unclosed quote with escapes, 480 k characters', make: (k) => '"' + 'x\\"'.repeat(160000 * k), run: (s) => parseaddress(text(s)) },
  { name: 'parseaddress: 10 k groups', make: (k) => Array.from({ length: 10000 * k }, (_, i) => `g${i}: a${i}@x.org;`).join(', '), run: (s) => parseaddress(text(s)) },
  { name: 'MIME parser: 1,200 k tiny parts (bounded at 10,000)', make: (k) => multipart(1200 * k), run: (b) => parseBuffer(bytes(b)) },
  { name: 'MIME parser: a header of 9,000 k folded lines (bounded at 1 MiB)', make: (k) => Buffer.from('Subject: x\r\n' + ' folded line\r\n'.repeat(9000 * k) + '\r\nbody\r\n'), run: (b) => parseBuffer(bytes(b)) },
  { name: 'MIME parser: near-miss boundary lines in a body of k MB', make: (k) => Buffer.from('Content-Type: multipart/mixed; boundary="bbbbbbbb"\r\n\r\n--bbbbbbbb\r\n\r\n' + '--bbbbbbb\r\n'.repeat(90000 * k) + '--bbbbbbbb--\r\n'), run: (b) => parseBuffer(bytes(b)) },
  { name: 'MIME parser: multiparts nested 2,000 k deep (bounded at 50)', make: (k) => nested(2000 * k), run: (b) => parseBuffer(bytes(b)) },
  {
    name: 'reply parser: 125 k lines of 1 KB (bounded at 1,000 lines)',
    make: (k) => Array.from({ length: 125 * k }, (_, i) => `250${i === 125 * k - 1 ? ' ' : '-'}${'x'.repeat(1020)}`).join('\n'),
    run: (s) => {
      const assembler = new ReplyAssembler('ehlo');
      let reply = null;
      for (const line of text(s).split('\n')) reply = assembler.push(line);
      return reply;
    },
  },
];

/**
 * Median milliseconds of one call over `runs` samples, after a warm-up. A call
 * faster than 20 ms is repeated within each sample so that timer resolution and
 * garbage-collection pauses do not decide the ratio.
 */
function time(run: () => unknown, runs: number): number {
  const warm = process.hrtime.bigint();
  run();
  const once = Number(process.hrtime.bigint() - warm) / 1e6;
  const repeat = Math.max(1, Math.ceil(20 / Math.max(once, 0.01)));
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < repeat; r++) run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6 / repeat);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function main(): void {
  const write = !process.argv.includes('--no-write');
  const rows: string[] = [];
  for (const c of CASES) {
    const perKb: number[] = [];
    const cells: string[] = [];
    for (const k of [1, 2, 4, 8]) {
      const input = c.make(k);
      const kb = Buffer.byteLength(input) / 1024;
      const ms = time(() => c.run(input), 5);
      perKb.push((ms * 1000) / kb);
      cells.push(`${kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${kb.toFixed(0)} KB`}: ${ms < 1 ? ms.toFixed(3) : ms.toFixed(1)} ms`);
    }
    const ratio = perKb[3] / perKb[0];
    rows.push(`| ${c.name} | ${cells.join(' · ')} | ${perKb[0].toFixed(2)} → ${perKb[3].toFixed(2)} | ${ratio.toFixed(2)} |`);
    process.stdout.write(`${c.name}: ${cells.join(', ')}; µs/KB ratio 8n/n ${ratio.toFixed(2)}\n`);
  }
  if (!write) return;
  const table = [
    `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} with \`npm run bench:growth\` (Node ${process.version}); median of 5 runs per size.`,
    '',
    '| input | time at n · 2n · 4n · 8n | µs per KB, n → 8n | ratio |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  const doc = join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  const start = '<!-- bench:growth:start -->';
  const end = '<!-- bench:growth:end -->';
  let content = readFileSync(doc, 'utf8');
  const block = `${start}\n${table}\n${end}`;
  if (content.includes(start)) {
    content = content.slice(0, content.indexOf(start)) + block + content.slice(content.indexOf(end) + end.length);
  } else {
    content = `${content.trimEnd()}\n\n## Parser growth\n\nThe parsers must do work linear in their input, hostile input included (issue 7;\ndocs/security.md, A9, A11, A12). \`bench/growth.ts\` times each hostile input at four sizes; the\nlast column divides the time per kilobyte at the largest size by that at the smallest:\nnear 1 is linear, about 8 would be quadratic. Parsers with a structural bound (nesting\ndepth, reply lines) stop at the bound, so their inputs grow past it to show that the\nrest costs no more.\n\n${block}\n`;
  }
  writeFileSync(doc, content);
}

main();
