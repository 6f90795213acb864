/**
 * `signal` cancels a connect, a sendmessage and a pool's send as `fetch` is
 * cancelled: the call rejects with a DOMException named AbortError, at once,
 * and the connection is closed without the end of data, so nothing is
 * delivered. Once the end of data is out, the honest outcome (uncertain) stands.
 */
import * as net from 'node:net';
import { OptionError, UncertainDeliveryError } from '../../lib/errors';
import * as mime from '../../mime';
import { pool } from '../../smtp/bulk/pool';
import { connect } from '../../smtp/protocol/session';
import { sendmessage } from '../../smtp/sendmessage';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

const HEADER: Array<[string, string]> = [['From', 'a@x.org'], ['To', 'b@y.org']];
const servers: ScriptedServer[] = [];
const tokens: mime.Token[] = [];
let silent: net.Server | undefined;

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const tok of tokens.splice(0)) mime.finalize(tok);
  if (silent) await new Promise<void>((resolve) => silent!.close(() => resolve()));
  silent = undefined;
});

async function server(script: Parameters<typeof scriptedServer>[0]): Promise<ScriptedServer> {
  const srv = await scriptedServer(script);
  servers.push(srv);
  return srv;
}

function token(): mime.Token {
  const tok = mime.initialize({ canonical: 'text/plain', string: 'hello\r\n' });
  tokens.push(tok);
  return tok;
}

/** Rejects with the AbortError within `ms` of the abort, or fails the test. */
async function abortedWithin<T>(promise: Promise<T>, controller: AbortController, ms: number): Promise<DOMException> {
  const started = Date.now();
  setTimeout(() => controller.abort(), 50);
  const error = await promise.then(
    () => {
      throw new Error('the call was not aborted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DOMException);
  expect((error as DOMException).name).toBe('AbortError');
  expect(Date.now() - started).toBeLessThan(ms);
  return error as DOMException;
}

describe('AbortSignal', () => {
  it('connect: an abort while the greeting is awaited rejects with AbortError and closes the socket', async () => {
    const closed = new Promise<void>((resolve) => {
      silent = net.createServer((socket) => socket.on('close', () => resolve()));
    });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', () => resolve()));
    const controller = new AbortController();
    const port = (silent!.address() as net.AddressInfo).port;
    await abortedWithin(connect({ server: '127.0.0.1', port, maxsecs: 60, signal: controller.signal }), controller, 5000);
    await closed;
  });

  it('connect and sendmessage: an already aborted signal rejects before any connection, with the reason as cause', async () => {
    const srv = await server({});
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await expect(connect({ server: '127.0.0.1', port: srv.port, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError', cause: new Error('shutting down') });
    await expect(sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], header: HEADER, signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(srv.connections).toBe(0);
  });

  it('sendmessage: an abort mid-transaction rejects with AbortError, tries no other server, delivers nothing', async () => {
    const slow = await server({ on: { RCPT: { reply: '250 ok', delayMs: 5000 } } });
    const other = await server({});
    const controller = new AbortController();
    const send = sendmessage(token(), { servers: ['127.0.0.1', '127.0.0.1'], ports: [slow.port, other.port], usetls: false, header: HEADER, signal: controller.signal });
    await abortedWithin(send, controller, 3000);
    await slow.closedConnection(0);
    expect(slow.received).toEqual([]);
    expect(slow.transcript[0]).not.toContain('.');
    expect(other.connections).toBe(0);
  });

  it('sendmessage: an abort after the end of data leaves the uncertain outcome as it is', async () => {
    const srv = await server({ on: { '.': { stall: true } } });
    const controller = new AbortController();
    const send = sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], usetls: false, header: HEADER, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(send).rejects.toBeInstanceOf(UncertainDeliveryError);
  });

  it('pool: a send waiting for a session is aborted without disturbing the one on it', async () => {
    const srv = await server({ on: { RCPT: { reply: '250 ok', delayMs: 600 } } });
    const p = pool({ servers: ['127.0.0.1'], ports: [srv.port], usetls: false, header: HEADER, maxConnections: 1 });
    try {
      const first = p.sendmessage(token());
      const controller = new AbortController();
      await abortedWithin(p.sendmessage(token(), { signal: controller.signal }), controller, 400);
      await expect(first).resolves.toEqual([]);
      expect(srv.messages).toHaveLength(1);
      // The pool goes on: the next send takes the session.
      await expect(p.sendmessage(token())).resolves.toEqual([]);
    } finally {
      await p.close();
    }
  });

  it('refuses a signal that is not an AbortSignal as an option error', async () => {
    await expect(connect({ server: '127.0.0.1', signal: 'stop' as unknown as AbortSignal })).rejects.toThrow(OptionError);
    await expect(sendmessage(token(), { servers: ['127.0.0.1'], header: HEADER, signal: {} as AbortSignal })).rejects.toThrow(/-signal expects an AbortSignal/);
  });
});
