/** What the table was measured on: the machine, its load and the versions of everything compared. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  load: string;
  node: string;
  tclmail: string;
  nodemailer: string;
  postfix: string | null;
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function postfixVersion(): string | null {
  // postconf -d prints the compiled-in default, which is the installed version, without a main.cf.
  const result = spawnSync('/usr/sbin/postconf', ['-d', 'mail_version'], { encoding: 'utf8' });
  const match = /mail_version\s*=\s*(\S+)/.exec(result.stdout ?? '');
  return match ? match[1] : null;
}

export function describeMachine(root: string): Machine {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    node: process.version,
    tclmail: packageVersion(root),
    nodemailer: packageVersion(join(root, 'node_modules', 'nodemailer')),
    postfix: postfixVersion(),
  };
}
