/**
 * Shared pieces of the reliability suite: a port where nothing listens, a
 * resolver hook that sends made-up host names to 127.0.0.1 (or never answers),
 * and a proxy that lets a scripted server misbehave in the middle of a
 * message body, which the scripted server's per-line script cannot do.
 */
import * as net from 'node:net';
import type { Session } from '../../smtp/protocol/types';
import type { ScriptedServer } from '../support/scripted-server';

export { closedPort, failure as thrown } from '../support/fixtures';

/** What the test resolver does for one name: an address, never answer, or fail as DNS would. */
export type Resolution = string | 'stall' | 'nxdomain';

/**
 * A `lookup` for net.connect that knows only the given names. Node calls it
 * with `all: true` when it may try several addresses, so both shapes are served.
 */
export function testResolver(names: Record<string, Resolution>): net.LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
    asked.push(hostname);
    const answer = names[hostname.toLowerCase()];
    if (answer === 'stall') return;
    if (answer === undefined || answer === 'nxdomain') {
      const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
      process.nextTick(() => callback(error));
      return;
    }
    const family = net.isIPv6(answer) ? 6 : 4;
    process.nextTick(() => (options?.all ? callback(null, [{ address: answer, family }]) : callback(null, answer, family)));
  }) as unknown as net.LookupFunction & { asked: string[] };
  lookup.asked = asked;
  return lookup;
}


/** What the proxy does once the client has sent `afterBytes` of message body. */
export type BodyFault =
  | { kind: 'drop' }
  | { kind: 'stall' }
  /** Writes `bytes` to the client at once (a reply no one asked for yet) and keeps forwarding. */
  | { kind: 'early'; bytes: string };

export interface FaultProxy {
  readonly port: number;
  /** Body bytes seen (per connection) when the fault fired; empty while it has not. */
  readonly firedAt: number[];
  close(): Promise<void>;
}

/** A proxy's connection to the real server for one client: both sockets tracked until they close, errors quiet. */
function connectUpstream(client: net.Socket, upstreamPort: number, sockets: Set<net.Socket>): net.Socket {
  const upstream = net.connect(upstreamPort, '127.0.0.1');
  for (const s of [client, upstream]) {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  }
  client.setNoDelay(true);
  return upstream;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `upstreamPort`. It forwards both ways,
 * notices the server's 354 (the body starts), counts the client's body bytes,
 * and when they pass `afterBytes` it drops both sides, stops reading (a stall
 * the client feels as backpressure), or slips an early reply to the client.
 */
export async function faultProxy(upstreamPort: number, afterBytes: number, fault: BodyFault): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const firedAt: number[] = [];
  const server = net.createServer((client) => {
    const upstream = connectUpstream(client, upstreamPort, sockets);
    let seenReplies = '';
    let inBody = false;
    let bodyBytes = 0;
    let fired = false;
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.on('data', (bytes: Buffer) => {
      if (!inBody) {
        seenReplies = (seenReplies + bytes.toString('latin1')).slice(-512);
        if (/(^|\n)354[ -]/.test(seenReplies)) inBody = true;
      }
      client.write(bytes);
    });
    client.on('data', (bytes: Buffer) => {
      if (fired && fault.kind === 'stall') return;
      if (inBody && !fired) {
        bodyBytes += bytes.length;
        if (bodyBytes >= afterBytes) {
          fired = true;
          firedAt.push(bodyBytes);
          if (fault.kind === 'drop') return closeBoth();
          if (fault.kind === 'stall') {
            client.pause();
            return;
          }
          client.write(fault.bytes);
        }
      }
      upstream.write(bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    firedAt,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A TCP proxy in front of `upstreamPort` that cuts one reply in two: on its
 * n-th connection (from 0), the first reply line starting with `prefix` is
 * written as its first n + 1 bytes, a short pause, then the rest. (The
 * scripted server can split replies itself, but then it does not know their
 * code, which it needs after DATA.)
 */
export async function splitProxy(upstreamPort: number, prefix: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    const at = ++connections;
    const upstream = connectUpstream(client, upstreamPort, sockets);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (bytes: Buffer) => upstream.write(bytes));
    let done = false;
    // Replies keep their order: while a cut one waits for its second half, later bytes queue behind it.
    let queue = Promise.resolve();
    upstream.on('data', (bytes: Buffer) => {
      const text = bytes.toString('latin1');
      const start = done ? -1 : text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`) + 1 || -1;
      if (start < 0) {
        queue = queue.then(() => void client.write(bytes));
        return;
      }
      done = true;
      const cut = Math.min(start + at, bytes.length - 1);
      queue = queue
        .then(() => void client.write(bytes.subarray(0, cut)))
        .then(() => new Promise((resolve) => setTimeout(resolve, 3)))
        .then(() => void client.write(bytes.subarray(cut)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a test of the session against scripted servers and fault proxies opened: all closed after each test. */
export interface FaultScene {
  servers: ScriptedServer[];
  proxies: FaultProxy[];
  sessions: Session[];
}

/** Registers the closing of every session, proxy and server a test puts in the scene, after each test. */
export function faultScene(): FaultScene {
  const scene: FaultScene = { servers: [], proxies: [], sessions: [] };
  afterEach(async () => {
    for (const s of scene.sessions.splice(0)) s.close();
    await Promise.all(scene.proxies.splice(0).map((p) => p.close()));
    await Promise.all(scene.servers.splice(0).map((s) => s.close()));
  });
  return scene;
}
