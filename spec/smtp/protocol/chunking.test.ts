/**
 * CHUNKING and BINARYMIME (RFC 3030): BDAT when the server offers it, DATA
 * when it does not or when asked not to; the same message reads the same both
 * ways; chunks are counted, acknowledged one by one and end with LAST; a
 * binary message goes untouched with BODY=BINARYMIME. Against a small BDAT
 * server of our own (exact lines and octets) and Postfix when installed.
 */
import { Readable } from 'node:stream';
import { UncertainDeliveryError } from '../../../lib/errors';
import { finalize, initialize } from '../../../mime';
import { sendmessage } from '../../../smtp/sendmessage';
import { connect } from '../../../smtp/protocol/session';
import type { Session } from '../../../smtp/protocol/types';
import { thrown } from '../../support/fixtures';
import { describeWithPostfix, type PostfixServer, splitTrace } from '../../support/postfix';
import type { BdatServer } from './bdat-server';
import { liveScope, usePostfix } from '../live-support';

const TEXT = 'From: a@x.org\r\nTo: b@y.org\r\nSubject: chunks\r\n\r\n.leading dot\r\n..two dots\r\nbare\nLF and bare\rCR\r\n\r\n.\r\nGr\u00fc\u00dfe\r\nno final line end';
/** What a server must read for TEXT: line ends made CRLF, the last line ended, no dot touched. */
const READ = Buffer.from(TEXT.replace(/\r\n|\r|\n/g, '\r\n') + '\r\n', 'utf8');

describe('BDAT with a server that offers CHUNKING', () => {
  let srv: BdatServer | undefined;
  let session: Session | undefined;
  const live = liveScope('quit');

  it('sends the message as one BDAT ... LAST, no DATA, and no dot-stuffing', async () => {
    srv = await live.bdatServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    expect(await session.sendmail('a@x.org', 'b@y.org', TEXT)).toEqual([]);
    expect(srv.transcript[0].slice(0, 4)).toEqual(['EHLO localhost', 'MAIL FROM:<a@x.org> BODY=8BITMIME', 'RCPT TO:<b@y.org>', `BDAT ${READ.length} LAST`]);
    expect(srv.transcript[0]).not.toContain('DATA');
    expect(srv.messages[0]).toMatchObject({ via: 'BDAT', chunks: [READ.length] });
    expect(srv.messages[0].data.equals(READ)).toBe(true);
  });

  it('reads the same message both ways: DATA and BDAT deliver the same octets', async () => {
    srv = await live.bdatServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', 'b@y.org', TEXT, { chunking: false });
    await session.sendmail('a@x.org', 'b@y.org', TEXT);
    expect(srv.messages.map((m) => m.via)).toEqual(['DATA', 'BDAT']);
    expect(srv.messages[0].data.equals(READ)).toBe(true);
    expect(srv.messages[1].data.equals(srv.messages[0].data)).toBe(true);
  });

  it('reads the same mime token both ways through sendmessage', async () => {
    srv = await live.bdatServer();
    const tok = initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], encoding: '8bit', string: '.dot\r\nK\u00f6ln\r\n.\r\n' });
    const header: Array<[string, string]> = [['From', 'a@x.org'], ['To', 'b@y.org'], ['Date', 'Mon, 1 Jan 2024 00:00:00 +0000'], ['Message-ID', '<1@x.org>']];
    try {
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header, chunking: false });
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header });
    } finally {
      finalize(tok);
    }
    expect(srv.messages.map((m) => m.via)).toEqual(['DATA', 'BDAT']);
    expect(srv.messages[1].data.toString('utf8')).toBe(srv.messages[0].data.toString('utf8'));
    expect(srv.messages[1].data.toString('utf8')).toContain('\r\n.dot\r\nK\u00f6ln\r\n.\r\n');
  });

  it('splits a large message into acknowledged chunks, the last one marked LAST', async () => {
    srv = await live.bdatServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const line = 'x'.repeat(98) + '\r\n';
    const big = 'Subject: big\r\n\r\n' + line.repeat(10_000);
    let atHook: string[] = [];
    await session.sendmail('a@x.org', 'b@y.org', big, { beforeEndOfData: () => void (atHook = [...srv!.transcript[0]]) });
    const message = srv.messages[0];
    expect(message.chunks.length).toBeGreaterThan(2);
    expect(message.chunks.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(big));
    expect(message.data.toString('latin1')).toBe(big);
    const bdats = srv.transcript[0].filter((l) => l.startsWith('BDAT'));
    expect(bdats).toEqual(message.chunks.map((n, i) => (i === message.chunks.length - 1 ? `BDAT ${n} LAST` : `BDAT ${n}`)));
    // The bulk journal's hook runs before the chunk that can deliver the message.
    expect(atHook.some((l) => l.endsWith('LAST'))).toBe(false);
    expect(atHook.filter((l) => l.startsWith('BDAT')).length).toBe(message.chunks.length - 1);
  });

  it('uses DATA when CHUNKING is not offered', async () => {
    srv = await live.bdatServer({ keywords: ['8BITMIME', 'PIPELINING'] });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    await session.sendmail('a@x.org', 'b@y.org', TEXT);
    expect(srv.transcript[0]).toContain('DATA');
    expect(srv.messages[0].via).toBe('DATA');
    expect(srv.messages[0].data.equals(READ)).toBe(true);
  });

  it('stops at a refused chunk: no further chunk, nothing delivered', async () => {
    srv = await live.bdatServer({ bdatReply: (index) => (index === 0 ? '552 5.3.4 chunk too big' : undefined) });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', 'Subject: x\r\n\r\n' + 'y'.repeat(600 * 1024)));
    expect(error).toMatchObject({ code: 'ESMTP', stage: 'data', replyCode: 552, enhanced: '5.3.4' });
    expect(srv.transcript[0].filter((l) => l.startsWith('BDAT'))).toHaveLength(1);
    expect(srv.messages).toHaveLength(0);
  });

  it('never sends LAST after the message source fails: the chunks already sent are not delivered', async () => {
    srv = await live.bdatServer();
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('Subject: x\r\n\r\n');
      yield Buffer.alloc(300 * 1024, 0x61);
      throw new Error('disk gone');
    }
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', Readable.from(failing())));
    expect(error).toMatchObject({ code: 'ESOURCE', stage: 'body' });
    expect(srv.transcript[0].filter((l) => l.startsWith('BDAT'))).toEqual([expect.stringMatching(/^BDAT \d+$/)]);
    expect(srv.messages).toHaveLength(0);
    session = undefined;
  });

  it('reports a refused LAST chunk as the message refused', async () => {
    srv = await live.bdatServer({ bdatReply: (_index, last) => (last ? '554 5.6.0 content refused' : undefined) });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', TEXT));
    expect(error).toMatchObject({ code: 'ESMTP', stage: 'dot', replyCode: 554 });
    expect(srv.messages).toHaveLength(0);
  });

  it('reports a drop after BDAT LAST as an uncertain outcome, never as a failure', async () => {
    srv = await live.bdatServer({ bdatReply: (_index, last) => (last ? 'drop' : undefined) });
    session = await live.connect({ server: '127.0.0.1', port: srv.port });
    const error = await thrown(session.sendmail('a@x.org', 'b@y.org', TEXT));
    expect(error).toBeInstanceOf(UncertainDeliveryError);
    expect(error.code).toBe('EUNCERTAIN');
    session = undefined;
  });
});

describe('BINARYMIME', () => {
  let srv: BdatServer | undefined;
  const live = liveScope();

  const BINARY = Buffer.concat([
    Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
    Buffer.from([0x00, 0xff, 0x0d, 0x2e, 0x0a, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0x80, 0x0a, 0x0a, 0x0d]),
  ]);

  it('sends binary octets untouched with BODY=BINARYMIME', async () => {
    srv = await live.bdatServer();
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      await session.sendmail('a@x.org', 'b@y.org', BINARY, { binarymime: true });
    } finally {
      await session.quit();
    }
    expect(srv.transcript[0][1]).toBe('MAIL FROM:<a@x.org> BODY=BINARYMIME');
    expect(srv.messages[0].data.equals(BINARY)).toBe(true);
  });

  it('refuses binary octets before MAIL when the server lacks BINARYMIME', async () => {
    srv = await live.bdatServer({ keywords: ['CHUNKING', '8BITMIME'] });
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      const error = await thrown(session.sendmail('a@x.org', 'b@y.org', BINARY, { binarymime: true }));
      expect(error).toMatchObject({ code: 'EEXTENSION', stage: 'mail' });
      expect(error.message).toMatch(/BINARYMIME/);
    } finally {
      await session.quit();
    }
    expect(srv.transcript[0].some((l) => /^(MAIL|BDAT|DATA)/.test(l))).toBe(false);
  });

  it('sends a binary token raw where BINARYMIME is offered, re-encoded where it is not', async () => {
    const bytes = Buffer.from([0x00, 0x01, 0x0d, 0x0a, 0x2e, 0xff, 0x0a, 0x0d]);
    const tok = initialize({ canonical: 'application/octet-stream', encoding: 'binary', string: bytes });
    const header: Array<[string, string]> = [['From', 'a@x.org'], ['To', 'b@y.org']];
    try {
      srv = await live.bdatServer();
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header, binarymime: true });
      const raw = srv.messages[0];
      expect(raw.mailParams).toContain('BODY=BINARYMIME');
      expect(raw.data.includes(bytes)).toBe(true);
      await srv.close();

      srv = await live.bdatServer({ keywords: ['CHUNKING', '8BITMIME'] });
      await sendmessage(tok, { servers: '127.0.0.1', ports: srv.port, header, binarymime: true });
      const encoded = srv.messages[0].data.toString('latin1');
      expect(encoded).toMatch(/Content-Transfer-Encoding: base64/i);
      expect(encoded).toContain(bytes.toString('base64'));
    } finally {
      finalize(tok);
    }
  });
});

describeWithPostfix('BDAT with Postfix', () => {
  let pf: PostfixServer;
  usePostfix((server) => (pf = server));

  it('stores the same message whether it came with DATA or with BDAT', async () => {
    const to = pf.address('carol');
    const text = `From: a@example.org\r\nTo: ${to}\r\nSubject: both ways\r\n\r\n.leading dot\r\nbare\nLF\r\nK\u00f6ln\r\n`;
    const lines: string[] = [];
    const session = await connect({ server: pf.host, port: pf.port, debug: (line) => lines.push(line) });
    try {
      await session.ehlo();
      expect(session.hasExtension('CHUNKING')).toBe(true);
      await session.sendmail('a@example.org', to, text, { chunking: false });
      await session.sendmail('a@example.org', to, text);
    } finally {
      await session.quit();
    }
    expect(lines.filter((l) => /^C: (DATA|BDAT)/.test(l))).toEqual(['C: DATA', expect.stringMatching(/^C: BDAT \d+ LAST$/)]);
    const files = await pf.waitForDelivery('carol', 2);
    const [first, second] = files.map((file) => splitTrace(file).message.toString('utf8'));
    expect(second).toBe(first);
    expect(first).toContain('\n.leading dot\nbare\nLF\nK\u00f6ln\n');
  });
});
