/** Where the benchmarks find the package they measure. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package root: the nearest folder above this file with tclmail's package.json (from bench/ or dist-bench/bench/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (let up = 0; up < 5; up++) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'tclmail') return dir;
    dir = dirname(dir);
  }
  throw new Error(`no tclmail package.json above ${__dirname}`);
}
