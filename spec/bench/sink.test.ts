/**
 * The benchmark's own sink must count what it received exactly (the bench
 * checks every run against its counters) and count the round trips R1 reports.
 * Real clients talk to it: tclmail's session, and a raw socket that splits the
 * end of data at every byte.
 */
import * as net from 'node:net';
import { startSink } from '../../bench/sink';
import { connect } from '../../smtp/protocol/session';
import { sendmessage } from '../../smtp/sendmessage';
import * as mime from '../../mime';

function dialogue(port: number, pieces: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    const send = async (): Promise<void> => {
      for (const piece of pieces) {
        socket.write(piece);
        // Separate segments: the sink must find a terminator split across reads.
        await new Promise((r) => setImmediate(r));
      }
    };
    socket.once('data', () => void send().catch(reject));
  });
}

describe('bench/sink', () => {
  it('counts messages and recipients from a pipelining client, and the round trips of each session', async () => {
    const sink = await startSink(0);
    try {
      const session = await connect({ server: '127.0.0.1', port: sink.port });
      const ext = await session.ehlo();
      expect(ext.has('PIPELINING') && ext.has('8BITMIME') && ext.has('SIZE')).toBe(true);
      await session.sendmail('a@x.org', ['b@y.org', 'c@y.org'], 'Subject: one\r\n\r\n.dot\r\n');
      await session.sendmail('a@x.org', ['d@y.org'], 'Subject: two\r\n\r\nbody');
      await session.quit();
      // The sink records a session's turns when it sees the close, which may come a moment after ours.
      for (let wait = 0; wait < 200 && sink.stats.turns.length === 0; wait++) await new Promise((r) => setTimeout(r, 10));
      expect(sink.stats).toMatchObject({ connections: 1, messages: 2, recipients: 3 });
      // EHLO, then per message MAIL+RCPT+DATA in one turn (atleastone) and the end of data; QUIT is not counted.
      expect(sink.stats.turns).toEqual([5]);
    } finally {
      sink.server.close();
    }
  });

  it('counts the turn of an end of data that came with QUIT (sendmessage sends them together)', async () => {
    const sink = await startSink(0);
    const tok = mime.initialize({ canonical: 'text/plain', string: 'hello\r\n' });
    try {
      await sendmessage(tok, { servers: '127.0.0.1', ports: sink.port, header: [['From', 'a@x.org'], ['To', 'b@y.org']] });
      for (let wait = 0; wait < 200 && sink.stats.turns.length === 0; wait++) await new Promise((r) => setTimeout(r, 10));
      // EHLO; MAIL+RCPT+DATA; the message, its end of data and QUIT: three turns, though one of them holds QUIT.
      expect(sink.stats.turns).toEqual([3]);
      expect(sink.stats.messages).toBe(1);
    } finally {
      mime.finalize(tok);
      sink.server.close();
    }
  });

  it('finds the end of data wherever the segments split it, and reads commands pipelined after it', async () => {
    const sink = await startSink(0);
    try {
      const data = 'Subject: x\r\n\r\nline\r\n..stuffed\r\n.\r\n';
      for (let cut = 1; cut < data.length; cut++) {
        const replies = await dialogue(sink.port, ['EHLO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n', data.slice(0, cut), data.slice(cut) + 'QUIT\r\n']);
        expect(replies).toMatch(/354 [^\r]*\r\n250 2\.0\.0 Ok: queued\r\n221 /);
      }
      const empty = await dialogue(sink.port, ['EHLO me\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n', '.', '\r', '\nQUIT\r\n']);
      expect(empty).toContain('250 2.0.0 Ok: queued');
      expect(sink.stats.messages).toBe(data.length);
    } finally {
      sink.server.close();
    }
  });
});
