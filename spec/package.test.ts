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
       console.log(JSON.stringify([typeof mime.initialize, typeof smtp.sendmessage, typeof alone.sendmessage]));`,
    ]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(['function', 'function', 'function']);
  });

  it('ships type declarations for the root and both subpaths', () => {
    for (const file of ['index.d.ts', 'mime/index.d.ts', 'smtp/index.d.ts']) {
      expect(existsSync(join(ROOT, 'dist', file))).toBe(true);
    }
  });
});
