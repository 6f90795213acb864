/**
 * The package as users load it: `require` and `import` of the built package
 * by its name (Node resolves a package's own name through its `exports`),
 * the subpaths, and the type declarations next to the JavaScript.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from './cli/helpers';

function node(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => ensureBuilt(), 180000);

describe('the built package', () => {
  it('gives { mime, smtp } to require, and each module through its subpath', () => {
    const run = node([
      '-e',
      `const root = require('tclmail');
       const mime = require('tclmail/mime');
       const smtp = require('tclmail/smtp');
       const tok = root.mime.initialize({ canonical: 'text/plain', string: 'hi' });
       console.log(JSON.stringify({
         keys: Object.keys(root).filter((k) => k === 'mime' || k === 'smtp').sort(),
         same: root.mime.initialize === mime.initialize && root.smtp.sendmessage === smtp.sendmessage,
         fns: [typeof smtp.sendmessage, typeof smtp.connect, typeof mime.buildmessage],
         built: /\\r\\n\\r\\nhi$/.test(root.mime.buildmessage(tok)),
         error: typeof root.SmtpError,
       }));`,
    ]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      keys: ['mime', 'smtp'],
      same: true,
      fns: ['function', 'function', 'function'],
      built: true,
      error: 'function',
    });
  });

  it('gives { mime, smtp } to import, as named exports', () => {
    const run = node([
      '--input-type=module',
      '-e',
      `import { mime, smtp } from 'tclmail';
       import * as alone from 'tclmail/smtp';
       import { SmtpError } from 'tclmail';
       console.log(JSON.stringify([typeof mime.initialize, typeof smtp.sendmessage, typeof alone.sendmessage, alone.SmtpError === SmtpError]));`,
    ]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(['function', 'function', 'function', true]);
  });

  it('ships type declarations for the root and both subpaths', () => {
    for (const file of ['index.d.ts', 'mime/index.d.ts', 'smtp/index.d.ts']) {
      expect(existsSync(join(ROOT, 'dist', file))).toBe(true);
    }
  });

  it('packs the library, its declarations, the docs and the licence, and nothing that points at unshipped sources', () => {
    const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    expect(result.status).toBe(0);
    const files = (JSON.parse(result.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/tclmail.js']));
    // Source maps would point at .ts files the tarball does not hold; examples and benchmark prose are not the library.
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/examples/') || f.startsWith('dist/spec/') || f.startsWith('dist/bench/'))).toEqual([]);
    expect(files).not.toContain('docs/benchmarks.md');
    expect(files.filter((f) => f.endsWith('.png'))).toEqual([]);
  });
});
