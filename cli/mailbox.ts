/**
 * Reading messages from where mail lands: a Maildir (cur/ and new/), an mbox
 * file (messages after `From ` lines, mboxrd quoting undone), a single
 * message file, or standard input. Messages are yielded one at a time, each
 * cut at a size cap, so a large mailbox is never held whole.
 */
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** One message and where it came from. */
export interface Mail {
  /** The file, or `FILE:N` for the Nth message of an mbox, `-:N` for standard input. */
  source: string;
  bytes: Buffer;
}

/** Bytes kept of one message; what follows is dropped (reports sit at the front). */
const MAX_MAIL = 4 * 1024 * 1024;

const FROM_ = Buffer.from('From ');

/** Whether the file or stream starts like an mbox. */
function isMboxStart(head: Buffer): boolean {
  return head.subarray(0, 5).equals(FROM_);
}

/** Splits a byte stream into lines (LF kept) without holding more than one message. */
async function* lines(stream: Readable): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    let data = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      yield data.subarray(start, nl + 1);
      start = nl + 1;
    }
    data = data.subarray(start);
    // A line longer than a message's cap is handed on in pieces.
    if (data.length > MAX_MAIL) {
      yield data;
      data = Buffer.alloc(0);
    }
    rest = Buffer.from(data);
  }
  if (rest.length > 0) yield rest;
}

/** The messages of a stream: one, or several when it is an mbox. */
async function* messagesOf(stream: Readable, name: string): AsyncGenerator<Mail> {
  let parts: Buffer[] = [];
  let size = 0;
  let mbox: boolean | null = null;
  let count = 0;
  let previousBlank = true;
  const flush = (): Mail | null => {
    if (parts.length === 0) return null;
    count += 1;
    const mail = { source: mbox ? `${name}:${count}` : name, bytes: Buffer.concat(parts) };
    parts = [];
    size = 0;
    return mail;
  };
  for await (const line of lines(stream)) {
    if (mbox === null) mbox = isMboxStart(line);
    if (mbox && previousBlank && line.subarray(0, 5).equals(FROM_)) {
      const mail = flush();
      if (mail !== null) yield mail;
      previousBlank = false;
      continue;
    }
    previousBlank = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    let kept = line;
    // mboxrd: ">From " and ">>From " lines lose one '>'.
    if (mbox && line[0] === 0x3e) {
      let i = 0;
      while (line[i] === 0x3e) i += 1;
      if (line.subarray(i, i + 5).equals(FROM_)) kept = line.subarray(1);
    }
    if (size + kept.length <= MAX_MAIL) {
      parts.push(Buffer.from(kept));
      size += kept.length;
    }
  }
  const mail = flush();
  if (mail !== null) yield mail;
}

/** The message files of a Maildir, cur/ then new/, in name order. */
function maildirFiles(dir: string): string[] {
  const files: string[] = [];
  for (const sub of ['cur', 'new']) {
    const path = join(dir, sub);
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const file = join(path, name);
      if (statSync(file).isFile()) files.push(file);
    }
  }
  return files;
}

/** Whether a directory is a Maildir (has cur/ or new/). */
export function isMaildir(dir: string): boolean {
  return ['cur', 'new'].some((sub) => {
    try {
      return statSync(join(dir, sub)).isDirectory();
    } catch {
      return false;
    }
  });
}

/** Every message of one source: '-' (standard input), a Maildir, an mbox or a message file. */
export async function* readSource(source: string, stdin: Readable): AsyncGenerator<Mail> {
  if (source === '-') {
    yield* messagesOf(stdin, '-');
    return;
  }
  if (statSync(source).isDirectory()) {
    for (const file of maildirFiles(source)) yield* messagesOf(createReadStream(file), file);
    return;
  }
  yield* messagesOf(createReadStream(source), source);
}
