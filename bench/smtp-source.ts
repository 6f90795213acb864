/**
 * Postfix's smtp-source as the practical ceiling: a C client without
 * pipelining. W1 is one session at a time, a connection per message; W4 keeps
 * each of its sessions open (`-d`) with as many sessions as the pools get.
 */
import { spawn } from 'node:child_process';
import { SMTP_SOURCE } from './servers';
import { now } from './measure';
import { BODY_BYTES, recipientList, type RunResult, type RunSpec, SENDER } from './workloads';

/** One run; smtp-source is killed by its PID if it overstays `timeoutMs`. */
export function runSmtpSource(spec: RunSpec, timeoutMs: number): Promise<RunResult> {
  const args = ['-s', String(spec.connections), '-m', String(spec.messages), '-l', String(BODY_BYTES)];
  if (spec.workload === 'W4') args.push('-d');
  args.push('-r', String(spec.recipients), '-f', SENDER, '-t', recipientList(1)[0], '-M', 'localhost', `${spec.host}:${spec.port}`);
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const elapsedMs = now() - start;
      if (code === 0) resolve({ elapsedMs, messages: spec.messages });
      else reject(new Error(`smtp-source ${args.join(' ')} ended with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}
