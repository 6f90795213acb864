/**
 * The built mime module (dist/mime), for tests that load it in a child
 * process: rebuilt first when it is missing or older than the sources.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** The path of dist/mime/index.js. */
export const BUILT_MIME = join(ROOT, 'dist', 'mime', 'index.js');

function stale(): boolean {
  if (!existsSync(BUILT_MIME)) return true;
  const built = statSync(BUILT_MIME).mtimeMs;
  const sources = ['mime', 'lib'].flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts')).map((name) => join(ROOT, folder, name)),
  );
  return sources.some((source) => statSync(source).mtimeMs > built);
}

/** Builds the package when dist/mime is missing or stale. Other parts of the tree may not compile yet; what matters is that dist/mime is emitted. */
export function ensureBuiltMime(): void {
  if (stale()) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore', timeout: 170000 });
}
