/**
 * bullmq and ioredis are optional: `tclmail` and `tclmail/smtp` never load
 * them, the fleet loads them only when one of its functions is called, and
 * without them that call fails with a typed error saying what to install.
 * Each case runs in a fresh Node process (the sources transpiled on load).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ensureBuilt } from '../../../cli/helpers';

const ROOT = path.join(__dirname, '..', '..', '..', '..');

const LOADER = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = function (module, filename) {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  module._compile(outputText, filename);
};
const loaded = () => Object.keys(require.cache).filter((k) => /node_modules[\\\\/](bullmq|ioredis)[\\\\/]/.test(k)).length > 0;
`;

function run(script: string): { out: Record<string, unknown>; stderr: string } {
  const result = spawnSync(process.execPath, ['-e', LOADER + script], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return { out: JSON.parse(last) as Record<string, unknown>, stderr: result.stderr };
  } catch {
    throw new Error(`no result: ${result.stdout}\n${result.stderr}`);
  }
}

test('tclmail and tclmail/smtp load neither bullmq nor ioredis; the fleet loads them on first use', () => {
  const { out } = run(`
    require('./index.ts');
    require('./smtp/index.ts');
    const afterLibrary = loaded();
    const fleet = require('./smtp/bulk/fleet/index.ts');
    const afterImport = loaded();
    fleet.openFleet('redis://127.0.0.1:1').then((f) => {
      const afterCall = loaded();
      return f.close().catch(() => undefined).then(() => {
        console.log(JSON.stringify({ afterLibrary, afterImport, afterCall }));
        process.exit(0);
      });
    });
  `);
  expect(out).toEqual({ afterLibrary: false, afterImport: false, afterCall: true });
}, 90000);

test('without bullmq and ioredis a fleet call fails with EDEPENDENCY, naming the packages to install', () => {
  const { out } = run(`
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'bullmq' || request === 'ioredis') {
        const error = new Error("Cannot find module '" + request + "'");
        error.code = 'MODULE_NOT_FOUND';
        throw error;
      }
      return resolve.call(this, request, ...rest);
    };
    const fleet = require('./smtp/bulk/fleet/index.ts');
    Promise.allSettled([
      fleet.openFleet('redis://127.0.0.1:1'),
      fleet.startWorker({ connection: 'redis://127.0.0.1:1', servers: ['127.0.0.1'] }),
      fleet.checkDurability('redis://127.0.0.1:1'),
    ]).then((results) => {
      console.log(JSON.stringify(results.map((r) => ({ status: r.status, code: r.reason && r.reason.code, name: r.reason && r.reason.name, message: r.reason && r.reason.message }))));
      process.exit(0);
    });
  `);
  for (const result of Object.values(out) as Array<Record<string, string>>) {
    expect(result).toMatchObject({ status: 'rejected', code: 'EDEPENDENCY', name: 'FleetError' });
    expect(result.message).toContain('npm install bullmq ioredis');
  }
}, 90000);

test('the built package gives the fleet as tclmail/fleet', () => {
  ensureBuilt();
  const result = spawnSync(
    process.execPath,
    ['-e', `const fleet = require('tclmail/fleet'); console.log(JSON.stringify([typeof fleet.openFleet, typeof fleet.startWorker, typeof fleet.enqueueCampaign]));`],
    { cwd: ROOT, encoding: 'utf8', timeout: 30000 },
  );
  expect(result.stderr).toBe('');
  expect(JSON.parse(result.stdout)).toEqual(['function', 'function', 'function']);
}, 240000);
