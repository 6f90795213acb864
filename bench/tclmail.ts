/**
 * The workloads through tclmail, as a user would write them: each message is
 * built with the mime module and sent with smtp.sendmessage (a connection
 * each, Tcllib's model) or through the bulk sender (smtp.pool, smtp.sendmany).
 */
import { basename } from 'node:path';
import { mime, smtp } from '../index';
import type { Token } from '../mime';
import { drive, mustAllSucceed } from './drive';
import { NullStream, peakRssMiB, rssMiB, Stopwatch } from './measure';
import { recipientList, type RunResult, type RunSpec, SENDER, textBody } from './workloads';

const BODY = textBody();

function headers(spec: RunSpec, i: number): Array<[string, string]> {
  return [
    ['From', SENDER],
    ['To', recipientList(spec.recipients).join(', ')],
    ['Subject', `${spec.workload} message ${i}`],
  ];
}

function textMessage(): Token {
  return mime.initialize({ canonical: 'text/plain', param: [['charset', 'us-ascii']], string: BODY });
}

/** A short text and the file as a base64 attachment, in a multipart/mixed. */
function attachmentMessage(file: string): Token {
  const text = mime.initialize({ canonical: 'text/plain', param: [['charset', 'us-ascii']], string: 'The data is attached.\r\n' });
  const data = mime.initialize({
    canonical: 'application/octet-stream',
    param: [['name', basename(file)]],
    encoding: 'base64',
    header: [['Content-Disposition', `attachment; filename="${basename(file)}"`]],
    file,
  });
  return mime.initialize({ canonical: 'multipart/mixed', parts: [text, data] });
}

function build(spec: RunSpec): Token {
  return spec.attachment > 0 ? attachmentMessage(spec.file) : textMessage();
}

/** W1, W2, W3, R1: one sendmessage after another, a new connection each. */
async function oneByOne(spec: RunSpec): Promise<RunResult> {
  const sendOne = async (i: number): Promise<void> => {
    const tok = build(spec);
    try {
      await smtp.sendmessage(tok, { servers: [spec.host], ports: [spec.port], header: headers(spec, i) });
    } finally {
      mime.finalize(tok, { subordinates: 'all' });
    }
  };
  mustAllSucceed(`tclmail ${spec.workload} warm-up`, await drive(spec.warmup, 1, sendOne));
  const watch = new Stopwatch();
  const driven = await drive(spec.messages, 1, sendOne);
  const time = watch.read();
  mustAllSucceed(`tclmail ${spec.workload}`, driven);
  return { ...time, messages: driven.ok };
}

/** W4 and R2 through smtp.pool: as many connections as the peers get, each session kept for the whole run. */
async function pooled(spec: RunSpec): Promise<RunResult> {
  const sender = smtp.pool({
    servers: [spec.host],
    ports: [spec.port],
    maxConnections: spec.connections,
    maxMessages: spec.warmup + spec.messages,
  });
  const sendOne = async (i: number): Promise<void> => {
    const tok = build(spec);
    try {
      await sender.sendmessage(tok, { header: headers(spec, i) });
    } finally {
      mime.finalize(tok, { subordinates: 'all' });
    }
  };
  // Enough messages in flight that no connection waits for the next one to be built.
  const window = spec.connections * 4;
  mustAllSucceed(`tclmail ${spec.workload} warm-up`, await drive(spec.warmup, window, sendOne));
  const watch = new Stopwatch();
  const driven = await drive(spec.messages, window, sendOne);
  await sender.close();
  const time = watch.read();
  mustAllSucceed(`tclmail ${spec.workload}`, driven);
  return { ...time, messages: driven.ok };
}

/** W4 through smtp.sendmany: the messages built as the run pulls them, each token released when its outcome comes. */
async function bulk(spec: RunSpec): Promise<RunResult> {
  const run = async (count: number, first: number): Promise<number> => {
    if (count === 0) return 0;
    const tokens = new Map<string, Token>();
    function* source(): Generator<{ token: Token; options: { header: Array<[string, string]> }; id: string }> {
      for (let i = first; i < first + count; i++) {
        const token = build(spec);
        tokens.set(String(i), token);
        yield { token, options: { header: headers(spec, i) }, id: String(i) };
      }
    }
    let sent = 0;
    let failure: string | null = null;
    const outcomes = smtp.sendmany(source(), {
      servers: [spec.host],
      ports: [spec.port],
      maxConnections: spec.connections,
      concurrency: spec.connections * 4,
      maxMessages: count,
    });
    for await (const outcome of outcomes) {
      if (outcome.status === 'sent') sent++;
      else failure ??= `${outcome.status}: ${outcome.error?.message ?? ''}`;
      const token = tokens.get(outcome.id);
      tokens.delete(outcome.id);
      if (token) mime.finalize(token, { subordinates: 'all' });
    }
    if (failure) throw new Error(`tclmail W4 (sendmany): ${count - sent} message(s) not sent, first: ${failure}`);
    return sent;
  };
  await run(spec.warmup, 0);
  const watch = new Stopwatch();
  const sent = await run(spec.messages, spec.warmup);
  return { ...watch.read(), messages: sent };
}

/** M1: the message with the file attachment, copymessage to a stream that drops it. */
async function copy(spec: RunSpec): Promise<RunResult> {
  const baseRssMiB = rssMiB();
  const watch = new Stopwatch();
  const tok = attachmentMessage(spec.file);
  const sink = new NullStream();
  await mime.copymessage(tok, sink);
  mime.finalize(tok, { subordinates: 'all' });
  return { ...watch.read(), messages: 1, bytes: sink.bytes, peakRssMiB: peakRssMiB(), baseRssMiB };
}

export function runTclmail(spec: RunSpec): Promise<RunResult> {
  switch (spec.workload) {
    case 'W4':
      return spec.bulk === 'sendmany' ? bulk(spec) : pooled(spec);
    case 'R2':
      return pooled(spec);
    case 'M1':
      return copy(spec);
    default:
      return oneByOne(spec);
  }
}
