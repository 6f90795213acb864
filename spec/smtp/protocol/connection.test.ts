/**
 * The connection holds message bytes back until a reply is awaited, so a short
 * message and its end of data reach the kernel in one write; a long one still
 * flows under backpressure, and the session stays usable afterwards.
 */
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { connect } from '../../../smtp/protocol/session';
import type { Session } from '../../../smtp/protocol/types';
import { realServer, type RealServer } from '../../support/real-server';

const MESSAGE = 'From: a@x.org\r\nTo: b@y.org\r\nSubject: batching\r\n\r\nHello\r\n';

type Writev = (chunks: Array<{ chunk: Buffer | string }>, cb: (error?: Error | null) => void) => void;
type Write = (chunk: Buffer | string, encoding: BufferEncoding, cb: (error?: Error | null) => void) => void;

describe('smtp/connection: batched message writes', () => {
  let real: RealServer;
  let session: Session | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await session?.quit();
    session = undefined;
    await real?.close();
  });

  it('sends a short message and its end of data in one write to the socket', async () => {
    real = await realServer({ hideSTARTTLS: true });
    session = await connect({ server: '127.0.0.1', port: real.port });
    await session.ehlo();
    const writes: string[] = [];
    const proto = net.Socket.prototype as unknown as { _write: Write; _writev: Writev };
    const write = proto._write;
    const writev = proto._writev;
    jest.spyOn(proto, '_write').mockImplementation(function (this: net.Socket, chunk, encoding, cb) {
      writes.push(Buffer.from(chunk as Buffer).toString('latin1'));
      return write.call(this, chunk, encoding, cb);
    });
    jest.spyOn(proto, '_writev').mockImplementation(function (this: net.Socket, chunks, cb) {
      writes.push(chunks.map(({ chunk }) => Buffer.from(chunk as Buffer).toString('latin1')).join(''));
      return writev.call(this, chunks, cb);
    });
    await session.sendmail('a@x.org', ['b@y.org'], MESSAGE);
    jest.restoreAllMocks();
    const last = writes.find((w) => w.endsWith('\r\n.\r\n'));
    expect(last).toBe(`${MESSAGE}.\r\n`);
    expect(real.messages[0].data.toString('latin1')).toBe(MESSAGE);
  });

  it('streams a message far larger than the socket buffer, then sends another on the same session', async () => {
    real = await realServer({ hideSTARTTLS: true, size: 64 * 1024 * 1024 });
    session = await connect({ server: '127.0.0.1', port: real.port });
    const line = `${'0123456789'.repeat(7)}\r\n`;
    const lines = 60000; // ~4.3 MB in chunks of one line each, then a few large ones
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(MESSAGE, 'latin1');
      for (let i = 0; i < lines; i++) yield Buffer.from(line, 'latin1');
      yield Buffer.alloc(1024 * 1024, 0x41);
      yield Buffer.from('\r\nend\r\n', 'latin1');
    }
    await session.sendmail('a@x.org', ['b@y.org'], Readable.from(body()));
    await session.sendmail('a@x.org', ['c@y.org'], MESSAGE);
    expect(real.messages).toHaveLength(2);
    const big = real.messages[0].data;
    expect(big.length).toBe(Buffer.byteLength(MESSAGE) + lines * line.length + 1024 * 1024 + 7);
    expect(big.subarray(big.length - 7).toString('latin1')).toBe('\r\nend\r\n');
    expect(real.messages[1].data.toString('latin1')).toBe(MESSAGE);
  });
});
