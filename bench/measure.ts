/** Clocks, memory and a stream that throws its bytes away. */
import { Writable } from 'node:stream';

export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Wall-clock and CPU time (user + system, all threads) of this process from start() to read(). */
export class Stopwatch {
  private readonly wall = now();
  private readonly cpu = process.cpuUsage();

  read(): { elapsedMs: number; cpuMs: number } {
    const cpu = process.cpuUsage(this.cpu);
    return { elapsedMs: now() - this.wall, cpuMs: (cpu.user + cpu.system) / 1000 };
  }
}

/** Resident set size now, in MiB. */
export function rssMiB(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}

/** The largest resident set size this process has had, in MiB (getrusage's ru_maxrss). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A writable that counts and drops what it gets (a /dev/null without the system calls). */
export class NullStream extends Writable {
  bytes = 0;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    done();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.bytes += chunk.length;
    done();
  }
}
