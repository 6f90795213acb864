/**
 * Server replies (RFC 5321 §4.2): lines of `code-text`, the last `code text`,
 * all with one code. A reply is parsed once into a {@link Reply}; nothing
 * downstream reads reply text again. Bounds keep a hostile server from making
 * us hold an endless reply (docs/security.md, A12).
 */
import { SmtpError, type Stage } from '../../lib/errors';
import type { Reply } from './types';

/** Longest reply line accepted, CRLF excluded. RFC 5321 §4.5.3.1.5 says 512; servers exceed it, so be liberal but bounded. */
export const MAX_LINE_LENGTH = 8 * 1024;
/** Most lines in one reply (an EHLO reply has a few dozen at most). */
export const MAX_REPLY_LINES = 1000;
/** Most bytes in one reply. */
export const MAX_REPLY_BYTES = 1024 * 1024;

// RFC 3463: class.subject.detail, the class being the reply code's first digit.
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?=[ \t]|$)/;

/** The enhanced status code at the start of `text` when its class matches `code` (RFC 3463, RFC 2034). */
export function enhancedCode(code: number, text: string): string | null {
  const match = ENHANCED.exec(text);
  if (!match || Number(match[1]) !== Math.floor(code / 100)) return null;
  return `${match[1]}.${Number(match[2])}.${Number(match[3])}`;
}

/** 2yz: the command was done. */
export function isPositive(reply: Reply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

/** 3yz: the server waits for more (354 after DATA, 334 during AUTH). */
export function isIntermediate(reply: Reply): boolean {
  return reply.code >= 300 && reply.code < 400;
}

/** 4yz: refused for now; the same command may work later. */
export function isTransient(reply: Reply): boolean {
  return reply.code >= 400 && reply.code < 500;
}

/** 5yz: refused. */
export function isPermanent(reply: Reply): boolean {
  return reply.code >= 500;
}

/** One reply line split into its parts, or null when it is not a reply line. */
export function splitReplyLine(line: string): { code: number; last: boolean; text: string } | null {
  if (line.length < 3) return null;
  const c0 = line.charCodeAt(0);
  const c1 = line.charCodeAt(1);
  const c2 = line.charCodeAt(2);
  // Reply codes are 2yz to 5yz (RFC 5321 §4.2.1); 1yz is unused but not malformed.
  if (c0 < 0x31 || c0 > 0x35 || c1 < 0x30 || c1 > 0x39 || c2 < 0x30 || c2 > 0x39) return null;
  const code = (c0 - 0x30) * 100 + (c1 - 0x30) * 10 + (c2 - 0x30);
  if (line.length === 3) return { code, last: true, text: '' };
  const sep = line.charAt(3);
  if (sep === ' ') return { code, last: true, text: line.slice(4) };
  if (sep === '-') return { code, last: false, text: line.slice(4) };
  return null;
}

/**
 * Builds replies from lines, one at a time, within the bounds. `push` returns
 * the reply when its last line arrives, null while more lines are due, and
 * throws an `EPROTOCOL` {@link SmtpError} for a malformed line, mixed codes, or
 * a reply over the bounds.
 */
export class ReplyAssembler {
  private code = 0;
  private lines: string[] = [];
  private bytes = 0;

  constructor(
    private readonly stage: Stage,
    private readonly limits: { maxLines: number; maxBytes: number } = { maxLines: MAX_REPLY_LINES, maxBytes: MAX_REPLY_BYTES },
  ) {}

  /** True when no line of a reply has been taken yet. */
  get empty(): boolean {
    return this.lines.length === 0;
  }

  push(line: string): Reply | null {
    const parts = splitReplyLine(line);
    if (!parts) throw this.fail(`malformed reply line ${JSON.stringify(truncate(line))}`);
    if (this.lines.length > 0 && parts.code !== this.code) {
      throw this.fail(`reply lines disagree on the code: ${this.code} then ${parts.code}`);
    }
    this.code = parts.code;
    this.lines.push(parts.text);
    this.bytes += line.length + 2;
    if (parts.last) {
      const lines = this.lines;
      const code = this.code;
      this.lines = [];
      this.bytes = 0;
      this.code = 0;
      const text = lines[0].trim();
      return { code, enhanced: enhancedCode(code, text), lines, text };
    }
    if (this.lines.length >= this.limits.maxLines) throw this.fail(`reply longer than ${this.limits.maxLines} lines`);
    if (this.bytes > this.limits.maxBytes) throw this.fail(`reply longer than ${this.limits.maxBytes} bytes`);
    return null;
  }

  private fail(message: string): SmtpError {
    return new SmtpError('EPROTOCOL', this.stage, `server broke the protocol: ${message}`);
  }
}

/** Parses a complete reply given as lines (CRLF removed); throws like {@link ReplyAssembler.push}. */
export function parseReply(lines: readonly string[], stage: Stage = 'greeting'): Reply {
  const assembler = new ReplyAssembler(stage);
  for (let i = 0; i < lines.length; i++) {
    const reply = assembler.push(lines[i]);
    if (reply) {
      if (i !== lines.length - 1) throw new SmtpError('EPROTOCOL', stage, 'server broke the protocol: lines after the last reply line');
      return reply;
    }
  }
  throw new SmtpError('EPROTOCOL', stage, 'server broke the protocol: reply has no last line');
}

function truncate(line: string): string {
  return line.length > 80 ? `${line.slice(0, 80)}...` : line;
}

/** Tcllib's one-line description of a reply: `code text`. */
export function describeReply(reply: Reply): string {
  return `${reply.code} ${reply.text}`.trim();
}
