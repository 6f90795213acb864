/**
 * From the runs to the table: a metric per workload (messages per second,
 * MB/s, round trips), medians per client, the ratios tclmail / peer, and
 * whether issue 8's targets are met; then docs/benchmarks.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './machine';
import { median, ratio, round } from './stats';
import type { Implementation, RunResult, WorkloadName, WorkloadSize } from './workloads';

/** One run as measured, with what the sink saw (R1). */
export interface Run {
  implementation: Implementation;
  result: RunResult;
  /** Round trips the sink counted (connect and QUIT excluded), R1 only. */
  turns?: number;
}

export interface Summary {
  workload: WorkloadName;
  what: string;
  unit: string;
  implementations: Implementation[];
  /** The metric of each run, per client, in run order. */
  values: Map<Implementation, number[]>;
  medians: Map<Implementation, number>;
  /** A note beside the median (peak RSS, round trips). */
  notes: Map<Implementation, string>;
  /** Median CPU time of the client per message, in ms (less disturbed by other load than wall time). */
  cpuPerMessage: Map<Implementation, number>;
  /** tclmail / peer, on the metric (higher is better, except R1 where it is time). */
  ratios: Map<Implementation, number>;
  target: string;
  met: boolean | null;
}

const MiB = 1024 * 1024;

function describe(workload: WorkloadName, size: WorkloadSize): string {
  switch (workload) {
    case 'W1':
      return `${size.messages} messages of ~2 KB, 1 recipient, a connection each`;
    case 'W2':
      return `${size.messages} messages, ${size.recipients} recipients each, a connection each`;
    case 'W3':
      return `${size.messages} messages with a ${size.attachment / MiB} MiB attachment, a connection each`;
    case 'W4':
      return `${size.messages} messages, pooled, ${size.connections} connections`;
    case 'M1':
      return `one message, ${size.attachment / MiB} MiB file attachment, streamed to a null stream`;
    case 'R1':
      return `one message to ${size.recipients} recipients, every reply ${size.delayMs} ms late`;
    case 'R2':
      return `${size.messages} messages, pooled, ${size.connections} connections, every reply ${size.delayMs} ms late`;
  }
}

function metric(workload: WorkloadName, size: WorkloadSize, run: Run): number {
  const seconds = run.result.elapsedMs / 1000;
  if (workload === 'M1') return size.attachment / MiB / seconds;
  if (workload === 'R1') return run.result.elapsedMs / size.delayMs;
  return run.result.messages / seconds;
}

export function summarize(workload: WorkloadName, size: WorkloadSize, implementations: Implementation[], runs: Run[]): Summary {
  const values = new Map<Implementation, number[]>();
  const medians = new Map<Implementation, number>();
  const notes = new Map<Implementation, string>();
  const cpuPerMessage = new Map<Implementation, number>();
  for (const impl of implementations) {
    const mine = runs.filter((r) => r.implementation === impl);
    const v = mine.map((r) => metric(workload, size, r));
    values.set(impl, v);
    medians.set(impl, median(v));
    const cpu = mine.filter((r) => r.result.cpuMs !== undefined).map((r) => (r.result.cpuMs as number) / r.result.messages);
    if (cpu.length > 0) cpuPerMessage.set(impl, median(cpu));
    if (workload === 'M1') {
      const peak = Math.max(...mine.map((r) => r.result.peakRssMiB ?? Number.NaN));
      const base = median(mine.map((r) => r.result.baseRssMiB ?? Number.NaN));
      notes.set(impl, `peak RSS ${round(peak)} MiB (${round(base)} at start)`);
    }
    if (workload === 'R1') {
      const turns = mine.map((r) => r.turns).filter((t): t is number => t !== undefined);
      if (turns.length > 0) notes.set(impl, `${median(turns)} round trips`);
    }
  }
  const ours = medians.get('tclmail') ?? Number.NaN;
  const ratios = new Map<Implementation, number>();
  for (const impl of implementations) if (impl !== 'tclmail') ratios.set(impl, ratio(ours, medians.get(impl) ?? Number.NaN));
  const nm = ratios.get('nodemailer') ?? Number.NaN;
  const ss = ratios.get('smtp-source');
  const atLeast = (r: number | undefined, floor: number): boolean | null => (r === undefined || Number.isNaN(r) ? null : r >= floor);
  const both = (a: boolean | null, b: boolean | null): boolean | null => (a === false || b === false ? false : a ?? b);
  let target = '';
  let met: boolean | null = null;
  switch (workload) {
    case 'W1':
      target = '≥ 2× nodemailer, ≥ 0.5× smtp-source';
      met = both(atLeast(nm, 2), atLeast(ss, 0.5));
      break;
    case 'W2':
    case 'W3':
      target = '≥ 1.5× nodemailer';
      met = atLeast(nm, 1.5);
      break;
    case 'W4':
      target = '≥ 3× nodemailer, ≥ 0.3× smtp-source -d';
      met = both(atLeast(nm, 3), atLeast(ss, 0.3));
      break;
    case 'M1': {
      target = '≥ 1.5× nodemailer MB/s, peak RSS < 64 MiB';
      const peak = Math.max(...runs.filter((r) => r.implementation === 'tclmail').map((r) => r.result.peakRssMiB ?? Infinity));
      met = both(atLeast(nm, 1.5), peak < 64);
      break;
    }
    case 'R2':
      target = 'none (not in issue 8)';
      met = null;
      break;
    case 'R1': {
      target = '≤ 4 round trips (connect and QUIT excluded)';
      const turns = runs.filter((r) => r.implementation === 'tclmail').map((r) => r.turns ?? Infinity);
      met = turns.length > 0 && median(turns) <= 4;
      break;
    }
  }
  const unit = workload === 'M1' ? 'MiB/s' : workload === 'R1' ? 'elapsed / 20 ms' : 'messages/s';
  return { workload, what: describe(workload, size), unit, implementations, values, medians, notes, cpuPerMessage, ratios, target, met };
}

function cell(s: Summary, impl: Implementation): string {
  const m = s.medians.get(impl);
  if (m === undefined) return '—';
  const note = s.notes.get(impl);
  return note ? `${round(m)} (${note})` : round(m);
}

function ratioCell(s: Summary, impl: Implementation): string {
  const r = s.ratios.get(impl);
  if (r === undefined) return '—';
  // R1's metric is a time: there a ratio below 1 is tclmail ahead.
  return s.workload === 'R1' ? `${round(r)}× the time` : `${round(r)}×`;
}

/** The results table in Markdown. */
export function table(summaries: Summary[]): string {
  const rows = [
    '| workload | unit | tclmail | nodemailer | smtp-source | tclmail / nodemailer | tclmail / smtp-source | target | met | Node floor |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of summaries) {
    const met = s.met === null ? '—' : s.met ? 'yes' : '**no**';
    rows.push(
      `| **${s.workload}** ${s.what} | ${s.unit} | ${cell(s, 'tclmail')} | ${cell(s, 'nodemailer')} | ${cell(s, 'smtp-source')} | ` +
        `${ratioCell(s, 'nodemailer')} | ${ratioCell(s, 'smtp-source')} | ${s.target} | ${met} | ${cell(s, 'raw-node')} |`,
    );
  }
  return rows.join('\n');
}

/** Every run's value, for the reader who distrusts medians, and the client's CPU time per message. */
export function runsTable(summaries: Summary[]): string {
  const rows = ['| workload | client | runs (in order) | CPU ms per message (median) |', '| --- | --- | --- | --- |'];
  for (const s of summaries) {
    for (const impl of s.implementations) {
      const cpu = s.cpuPerMessage.get(impl);
      rows.push(`| ${s.workload} | ${impl} | ${(s.values.get(impl) ?? []).map(round).join(', ')} | ${cpu === undefined ? '—' : round(cpu)} |`);
    }
  }
  return rows.join('\n');
}

export interface Setting {
  machine: Machine;
  quick: boolean;
  warm: boolean;
  runs: number;
  sink: string;
}

/** The generated part of docs/benchmarks.md. */
export function resultsSection(summaries: Summary[], setting: Setting): string {
  const m = setting.machine;
  return [
    `Measured ${m.date} with \`npm run bench${flags(setting)}\`: ${setting.runs} runs of each client per workload, interleaved ` +
      `(tclmail, nodemailer, smtp-source, then again), each run in a fresh process` +
      (setting.warm ? ' that first sends unmeasured warm-up messages the same way' : '') +
      '; the table shows medians.',
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load average at the start ${m.load} ` +
      '(the machine was shared with other jobs: expect noise of ±20 %).',
    `- Versions: Node ${m.node}, tclmail ${m.tclmail}, nodemailer ${m.nodemailer}, ` +
      `${m.postfix ? `Postfix ${m.postfix} (smtp-source, smtp-sink)` : 'Postfix not installed (no smtp-source column)'}.`,
    `- Sink: ${setting.sink}; R1 and R2 always use the bench's own sink with delayed replies.`,
    '',
    table(summaries),
    '',
    '"Node floor" is the same dialogue written with `net` alone (bench/raw.ts): what any Node library pays before its own code.',
    '',
    '<details><summary>Every run</summary>',
    '',
    runsTable(summaries),
    '',
    '</details>',
  ].join('\n');
}

function flags(setting: Setting): string {
  const list = [setting.quick ? '--quick' : '', setting.warm ? '--warm' : ''].filter(Boolean);
  return list.length ? ` -- ${list.join(' ')}` : '';
}

/**
 * Puts the results between the markers of docs/benchmarks.md (`cold` for the
 * default run, `warm` for --warm), keeping the prose around them.
 */
export function writeResults(path: string, kind: 'cold' | 'warm', section: string): void {
  const START = `<!-- bench:${kind}:start -->`;
  const END = `<!-- bench:${kind}:end -->`;
  const block = `${START}\n${section}\n${END}`;
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const from = old.indexOf(START);
  const to = old.indexOf(END);
  const text = from >= 0 && to > from ? old.slice(0, from) + block + old.slice(to + END.length) : `${old || '# Benchmarks\n'}\n${block}\n`;
  writeFileSync(path, text);
}
