/**
 * Message bytes the connection holds back (so that a short message and its end
 * of data leave in one write) go out by the end of the event loop's turn, on
 * every Node: the message source may be waiting for the server to have read
 * them. Node 22 raised the sockets' default high-water mark from 16 to 64 KiB,
 * and a send that relied on backpressure to flush then never settled.
 */
import { Readable } from 'node:stream';
import { connect } from '../../../smtp/protocol/session';
import { faultProxy, type FaultProxy, faultScene, thrown } from '../../reliability/helpers';
import { scriptedServer } from '../../support/scripted-server';

const { servers, proxies, sessions } = faultScene();

/** Resolves once the proxy has seen `proxy`'s threshold of body bytes. */
async function untilServerHas(proxy: FaultProxy): Promise<void> {
  while (proxy.firedAt.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe('held message bytes', () => {
  it.each([
    ['a few bytes', 200],
    ['more than Node 20 holds (16 KiB)', 40 * 1024],
  ])('%s written before the source waits reach the server while it waits', async (_what, length) => {
    const upstream = await scriptedServer({});
    servers.push(upstream);
    // An "early" fault of no bytes: the proxy only notes that the first `length` body bytes arrived.
    const proxy = await faultProxy(upstream.port, length, { kind: 'early', bytes: '' });
    proxies.push(proxy);
    const session = await connect({ server: '127.0.0.1', port: proxy.port, maxsecs: 10 });
    sessions.push(session);
    const head = `Subject: held\r\n\r\n${'x'.repeat(length)}\r\n`;
    const body = Readable.from(
      (async function* () {
        yield Buffer.from(head);
        await untilServerHas(proxy);
        yield Buffer.from('the rest\r\n');
      })(),
    );
    await session.sendmail('a@x.org', ['b@y.org'], body);
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0].data.toString('latin1')).toBe(`${head}the rest\r\n`);
  });
});

describe('a message source that stops', () => {
  it('is ETIMEOUT at stage body within maxsecs, and the end of data is never sent', async () => {
    const upstream = await scriptedServer({});
    servers.push(upstream);
    const session = await connect({ server: '127.0.0.1', port: upstream.port, maxsecs: 1 });
    sessions.push(session);
    let released = false;
    const body = Readable.from(
      (async function* () {
        try {
          yield Buffer.from('Subject: stalled\r\n\r\nfirst\r\n');
          await new Promise(() => undefined);
        } finally {
          released = true;
        }
      })(),
    );
    const error = await thrown(session.sendmail('a@x.org', ['b@y.org'], body));
    expect([error.code, error.stage]).toEqual(['ETIMEOUT', 'body']);
    expect(session.state).toBe('closed');
    await upstream.closedConnection(0);
    expect(upstream.received).toEqual([]);
    // The stream was destroyed; its generator, stuck in an await, is simply dropped.
    expect(body.destroyed).toBe(true);
    expect(released).toBe(false);
  });
});
