/**
 * The scripted server is the peer for every fault test, so its own behaviour is
 * pinned here with a raw socket client: defaults, scripted replies, data mode,
 * round-trip grouping and STARTTLS.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { scriptedServer, type ScriptedServer, inTurn } from './scripted-server';

/** A minimal raw client: write bytes, read until a reply whose last line is final. */
class RawClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  constructor(public socket: net.Socket) {
    this.attach(socket);
  }
  attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.buffer += text;
      this.waiters.splice(0).forEach((w) => w());
    });
  }
  static async open(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return new RawClient(socket);
  }
  async reply(): Promise<string[]> {
    for (;;) {
      const lines = this.buffer.split('\r\n');
      const complete = lines.slice(0, -1);
      const end = complete.findIndex((l) => /^\d{3}( |$)/.test(l));
      if (end >= 0) {
        this.buffer = lines.slice(end + 1).join('\r\n');
        return complete.slice(0, end + 1);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  async send(line: string): Promise<string[]> {
    this.socket.write(line + '\r\n');
    return this.reply();
  }
}

describe('scriptedServer', () => {
  let srv: ScriptedServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it('answers the usual verbs by default and keeps an accepted message', async () => {
    srv = await scriptedServer();
    const c = await RawClient.open(srv.port);
    expect(await c.reply()).toEqual(['220 scripted.test ESMTP ready']);
    expect((await c.send('EHLO me'))[0]).toMatch(/^250-/);
    expect(await c.send('MAIL FROM:<a@x.org> SIZE=12')).toEqual(['250 2.1.0 sender ok']);
    expect(await c.send('RCPT TO:<b@y.org>')).toEqual(['250 2.1.5 recipient ok']);
    expect((await c.send('DATA'))[0]).toMatch(/^354 /);
    expect(await c.send('Hi\r\n..dot\r\n.')).toEqual(['250 2.0.0 queued']);
    expect(await c.send('QUIT')).toEqual(['221 2.0.0 bye']);
    await srv.closedConnection(0);
    expect(srv.transcript).toEqual([['EHLO me', 'MAIL FROM:<a@x.org> SIZE=12', 'RCPT TO:<b@y.org>', 'DATA', '.', 'QUIT']]);
    expect(srv.messages).toHaveLength(1);
    expect(srv.messages[0]).toMatchObject({ mailFrom: 'a@x.org', mailParams: ['SIZE=12'], rcptTo: ['b@y.org'], replyCode: 250 });
    expect(srv.messages[0].data.toString()).toBe('Hi\r\n.dot\r\n');
    expect(srv.messages[0].raw.toString()).toBe('Hi\r\n..dot\r\n.\r\n');
  });

  it('uses scripted replies, longest key first, and keeps refused messages out of messages', async () => {
    srv = await scriptedServer({
      greeting: '220 hello',
      on: { RCPT: '250 ok', 'RCPT TO:<bad@x.y>': '550 5.1.1 no such user', '.': inTurn('554 no', '250 yes') },
    });
    const c = await RawClient.open(srv.port);
    await c.reply();
    await c.send('HELO me');
    await c.send('MAIL FROM:<>');
    expect(await c.send('RCPT TO:<bad@x.y>')).toEqual(['550 5.1.1 no such user']);
    expect(await c.send('RCPT TO:<good@x.y>')).toEqual(['250 ok']);
    await c.send('DATA');
    expect(await c.send('.')).toEqual(['554 no']);
    expect(srv.messages).toHaveLength(0);
    expect(srv.received).toHaveLength(1);
    expect(srv.received[0].data.length).toBe(0);
    expect(srv.received[0].rcptTo).toEqual(['good@x.y']);
    c.socket.destroy();
  });

  it('groups pipelined lines into one client turn', async () => {
    srv = await scriptedServer();
    const c = await RawClient.open(srv.port);
    await c.reply();
    await c.send('EHLO me');
    c.socket.write('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n');
    for (let i = 0; i < 4; i++) await c.reply();
    await c.send('body\r\n.');
    await c.send('NOOP');
    expect(srv.conns[0].batches).toEqual([['EHLO me'], ['MAIL FROM:<a@x>', 'RCPT TO:<b@x>', 'RCPT TO:<c@x>', 'DATA'], ['.'], ['NOOP']]);
    c.socket.destroy();
  });

  it('runs STARTTLS with the test certificate and records the SNI name', async () => {
    srv = await scriptedServer({ tls: true });
    const c = await RawClient.open(srv.port);
    await c.reply();
    expect(await c.send('EHLO me')).toContain('250-STARTTLS');
    expect(await c.send('STARTTLS')).toEqual(['220 2.0.0 ready to start TLS']);
    c.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: c.socket, servername: 'localhost', ca: srv.certificate!.ca });
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    const s = new RawClient(secure);
    const ehlo = await s.send('EHLO me');
    expect(ehlo).not.toContain('250-STARTTLS');
    expect(srv.conns[0].secure).toBe(true);
    expect(srv.conns[0].servername).toBe('localhost');
    secure.destroy();
  });

  it('drops, stalls and injects on cue', async () => {
    srv = await scriptedServer({
      on: { NOOP: { reply: '250 ok', raw: '250 injected\r\n' }, VRFY: { drop: true } },
    });
    const c = await RawClient.open(srv.port);
    await c.reply();
    expect(await c.send('NOOP')).toEqual(['250 ok']);
    expect(await c.reply()).toEqual(['250 injected']);
    c.socket.write('VRFY x\r\n');
    await srv.closedConnection(0);
    expect(srv.conns[0].closed).toBe(true);
  });

  it('records lines that end in a bare LF', async () => {
    srv = await scriptedServer();
    const c = await RawClient.open(srv.port);
    await c.reply();
    c.socket.write('NOOP\n');
    await c.reply();
    expect(srv.conns[0].bareLineFeeds).toEqual(['NOOP']);
    c.socket.destroy();
  });
});
