/**
 * The bounce module as users load it from the built package: `tclmail`'s
 * `bounce` export, the `tclmail/bounce` subpath, and its type declarations.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from '../cli/helpers';

beforeAll(() => ensureBuilt(), 180000);

test('require and import give the same bounce module, root and subpath', () => {
  const script = `const root = require('tclmail');
    const alone = require('tclmail/bounce');
    console.log(JSON.stringify([root.bounce.parse === alone.parse, typeof alone.verpAddress, root.bounce.parse('From: a@b.example\\r\\n\\r\\nhi')]));`;
  const cjs = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  expect(cjs.stderr).toBe('');
  expect(JSON.parse(cjs.stdout)).toEqual([true, 'function', null]);
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `import { bounce } from 'tclmail'; import * as alone from 'tclmail/bounce'; console.log(JSON.stringify([typeof bounce.parse, typeof alone.verpItem]));`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30000,
  });
  expect(esm.stderr).toBe('');
  expect(JSON.parse(esm.stdout)).toEqual(['function', 'function']);
  expect(existsSync(join(ROOT, 'dist', 'bounce', 'index.d.ts'))).toBe(true);
});
