/**
 * The floor for Node: W1's dialogue with `net` and nothing else (no parsing
 * beyond the reply code, no MIME, no checks), one connection per message:
 * greeting, EHLO, MAIL and RCPT pipelined (with DATA when there is one
 * recipient, as tclmail does), DATA, the message with QUIT behind its end of
 * data. Like tclmail's sendmessage it is done at the reply to the end of data,
 * and closes in the background.
 * What a library costs is the distance from here.
 */
import * as net from 'node:net';
import { drive, mustAllSucceed } from './drive';
import { Stopwatch } from './measure';
import { recipientList, type RunResult, type RunSpec, SENDER, textBody } from './workloads';

function message(spec: RunSpec, i: number): Buffer {
  const to = recipientList(spec.recipients);
  const head = `From: ${SENDER}\r\nTo: ${to.join(', ')}\r\nSubject: ${spec.workload} message ${i}\r\n\r\n`;
  return Buffer.from(`${head}${textBody()}.\r\n`, 'latin1');
}

/** One message on a fresh connection; rejects on any reply that is not the one expected. */
function sendOne(spec: RunSpec, i: number): Promise<void> {
  const to = recipientList(spec.recipients);
  // The replies expected, in order, and what to write after each.
  const one = to.length === 1;
  const steps: Array<[number, string | Buffer | null]> = [
    [220, 'EHLO localhost\r\n'],
    [250, `MAIL FROM:<${SENDER}>\r\n${to.map((r) => `RCPT TO:<${r}>\r\n`).join('')}${one ? 'DATA\r\n' : ''}`],
    [250, null],
    ...to.map((_, k): [number, string | null] => [250, k === to.length - 1 && !one ? 'DATA\r\n' : null]),
    [354, Buffer.concat([message(spec, i), Buffer.from('QUIT\r\n')])],
    [250, null],
    [221, null],
  ];
  const quitWritten = steps.length - 1;
  return new Promise((resolve, reject) => {
    let finished = false;
    const done = (error?: Error): void => {
      if (finished) return;
      finished = true;
      if (error) reject(error);
      else resolve();
    };
    const socket = net.connect({ host: spec.host, port: spec.port });
    socket.setNoDelay(true);
    let step = 0;
    let pending = '';
    const timer = setTimeout(() => socket.destroy(new Error('no reply within 10 s')), 10_000);
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let eol = pending.indexOf('\r\n'); eol >= 0; eol = pending.indexOf('\r\n')) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        if (line[3] === '-') continue;
        const [code, next] = steps[step++] ?? [0, null];
        if (Number(line.slice(0, 3)) !== code) {
          socket.destroy(new Error(`expected ${code}, got ${line}`));
          return;
        }
        if (next !== null) socket.write(next);
        if (step === quitWritten) done();
      }
      if (step === steps.length) socket.end();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      done(error);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (step >= quitWritten) done();
      else done(new Error(`connection closed after ${step} of ${steps.length} replies`));
    });
  });
}

export async function runRaw(spec: RunSpec): Promise<RunResult> {
  mustAllSucceed(`raw ${spec.workload} warm-up`, await drive(spec.warmup, 1, (i) => sendOne(spec, i)));
  const watch = new Stopwatch();
  const driven = await drive(spec.messages, 1, (i) => sendOne(spec, i));
  const time = watch.read();
  mustAllSucceed(`raw ${spec.workload}`, driven);
  return { ...time, messages: driven.ok };
}
