/**
 * The same workloads through nodemailer, as its documentation writes them: a
 * transport per message connection for W1-W3 and R1, `pool: true` with the
 * same number of connections for W4 and R2, and MailComposer's stream for M1.
 */
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { drive, mustAllSucceed } from './drive';
import { NullStream, peakRssMiB, rssMiB, Stopwatch } from './measure';
import { recipientList, type RunResult, type RunSpec, SENDER, textBody } from './workloads';

const BODY = textBody();

function message(spec: RunSpec, i: number): Mail.Options {
  const mail: Mail.Options = {
    from: SENDER,
    to: recipientList(spec.recipients),
    subject: `${spec.workload} message ${i}`,
    text: spec.attachment > 0 ? 'The data is attached.\r\n' : BODY,
  };
  if (spec.attachment > 0) {
    mail.attachments = [{ filename: basename(spec.file), path: spec.file, contentType: 'application/octet-stream' }];
  }
  return mail;
}

async function send(spec: RunSpec, pooled: boolean): Promise<RunResult> {
  const transport = nodemailer.createTransport(
    pooled
      ? { host: spec.host, port: spec.port, pool: true, maxConnections: spec.connections, maxMessages: Infinity }
      : { host: spec.host, port: spec.port },
  );
  const window = pooled ? spec.connections * 4 : 1;
  const sendOne = async (i: number): Promise<void> => {
    await transport.sendMail(message(spec, i));
  };
  mustAllSucceed(`nodemailer ${spec.workload} warm-up`, await drive(spec.warmup, window, sendOne));
  const watch = new Stopwatch();
  const driven = await drive(spec.messages, window, sendOne);
  transport.close();
  const time = watch.read();
  mustAllSucceed(`nodemailer ${spec.workload}`, driven);
  return { ...time, messages: driven.ok };
}

async function compose(spec: RunSpec): Promise<RunResult> {
  const baseRssMiB = rssMiB();
  const watch = new Stopwatch();
  const sink = new NullStream();
  await pipeline(new MailComposer(message(spec, 0)).compile().createReadStream(), sink);
  return { ...watch.read(), messages: 1, bytes: sink.bytes, peakRssMiB: peakRssMiB(), baseRssMiB };
}

export function runNodemailer(spec: RunSpec): Promise<RunResult> {
  switch (spec.workload) {
    case 'W4':
    case 'R2':
      return send(spec, true);
    case 'M1':
      return compose(spec);
    default:
      return send(spec, false);
  }
}
