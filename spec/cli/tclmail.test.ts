/**
 * The program's frame: command dispatch, help, version and usage errors, run
 * as a user runs it (node dist/cli/tclmail.js).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, ROOT, run } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);

describe('tclmail', () => {
  it('starts with a #!/usr/bin/env node line so that the bin entry runs', () => {
    const built = readFileSync(join(ROOT, 'dist', 'cli', 'tclmail.js'), 'utf8');
    expect(built.split('\n')[0]).toBe('#!/usr/bin/env node');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.tclmail).toBe('dist/cli/tclmail.js');
  });

  it('without a command prints the command list on stderr and exits 64', async () => {
    const result = await run([]);
    expect(result.status).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Usage: tclmail <command>/);
    for (const name of ['send', 'serve', 'inspect']) expect(result.stderr).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('--help prints the command list on stdout and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tclmail <command>/);
  });

  it.each(['send', 'serve', 'inspect'])('%s --help prints that command\'s usage and exits 0', async (name) => {
    const result = await run([name, '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: tclmail ${name}`));
    const viaHelp = await run(['help', name]);
    expect(viaHelp.stdout).toBe(result.stdout);
  });

  it('an unknown command exits 64 and names it', async () => {
    const result = await run(['frobnicate']);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/^tclmail: unknown command "frobnicate"$/m);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${pkg.version}\n`);
  });
});

describe('commands load on first use', () => {
  it('--help and send load neither the capture server nor the fleet packages', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const probe = spawnSync(process.execPath, ['-e', `
      const { main } = require(${JSON.stringify(join(ROOT, 'dist', 'cli', 'tclmail.js'))});
      const sink = { write() { return true; } };
      main(['--help'], { stdin: process.stdin, stdout: sink, stderr: sink, env: {} }).then((status) => {
        const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(smtp-server|selfsigned|bullmq|ioredis)\\//.test(k));
        console.log(JSON.stringify({ status, loaded }));
      });`], { encoding: 'utf8' });
    expect(JSON.parse(probe.stdout)).toEqual({ status: 0, loaded: [] });
  });

  it('a missing optional package is an error that says what to install', () => {
    const { loadCommand } = require('../../cli/tclmail') as typeof import('../../cli/tclmail');
    const entry = {
      name: 'serve',
      summary: '',
      load(): never {
        throw Object.assign(new Error("Cannot find module 'smtp-server'"), { code: 'MODULE_NOT_FOUND' });
      },
    };
    expect(() => loadCommand(entry)).toThrow('tclmail serve needs the optional package smtp-server, which is not installed: npm install smtp-server selfsigned');
  });
});
