/**
 * sendmessage resolves once the final reply has settled the message, without
 * waiting for QUIT's reply (a round trip per message), but only after QUIT has
 * been handed to the socket: a script that exits as soon as the send resolves
 * still says QUIT. Guards the ordering docs/fast-paths.md describes ("QUIT
 * started, not awaited"); the socket's writes are watched, not replaced.
 */
import * as net from 'node:net';
import * as mime from '../../mime';
import { sendmessage } from '../../smtp/sendmessage';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

let srv: ScriptedServer | undefined;
afterEach(async () => {
  jest.restoreAllMocks();
  await srv?.close();
  srv = undefined;
});

describe('sendmessage: QUIT is written when the send resolves', () => {
  it.each([
    // Without PIPELINING QUIT cannot go with the end of data: it is started after the final reply.
    ['without PIPELINING', ['250-scripted.test', '250 8BITMIME'], false],
    // atleastone may need a follow-up transaction (452), so QUIT waits for the final reply here too.
    ['with PIPELINING and atleastone', ['250-scripted.test', '250-PIPELINING', '250 8BITMIME'], true],
    // The last transaction of the session: QUIT leaves with the end of data.
    ['with PIPELINING, QUIT with the end of data', ['250-scripted.test', '250-PIPELINING', '250 8BITMIME'], false],
  ])('%s', async (_what, ehlo, atleastone) => {
    srv = await scriptedServer({ ehlo: ehlo });
    const written: string[] = [];
    const write = net.Socket.prototype.write;
    jest.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
      if (Buffer.isBuffer(args[0]) || typeof args[0] === 'string') written.push(args[0].toString());
      return write.apply(this, args);
    });
    const token = mime.initialize({ canonical: 'text/plain', string: 'hello\r\n' });
    try {
      const rejected = await sendmessage(token, {
        servers: ['127.0.0.1'], ports: [srv.port], usetls: false, atleastone: atleastone, header: [['From', 'a@x.org'], ['To', 'b@y.org']],
      });
      // Read in the same turn as the resolution: nothing further has run.
      const quitWritten = written.some((text) => text.endsWith('QUIT\r\n'));
      expect({ rejected, quitWritten }).toEqual({ rejected: [], quitWritten: true });
    } finally {
      mime.finalize(token);
    }
    await srv.closedConnection(0);
    expect(srv.messages).toHaveLength(1);
    expect(srv.transcript[0][srv.transcript[0].length - 1]).toBe('QUIT');
  });
});
