/**
 * LMTP (RFC 2033): LHLO instead of EHLO, and after the data one reply per
 * accepted recipient, in RCPT order, mapped into the refused-recipient list.
 * Against smtp-server in LMTP mode (which refuses EHLO and HELO), over TCP
 * and over a Unix socket, and the scripted server for the exact lines.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SMTPServer, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { finalize, initialize } from '../../mime';
import { enhancedOf } from '../../smtp/protocol/refused';
import { planSend, sendmessage } from '../../smtp/sendmessage';
import { connect } from '../../smtp/protocol/session';
import { thrown } from '../support/fixtures';
import { scriptedServer } from '../support/scripted-server';

interface Delivery {
  rcptTo: string[];
  data: string;
}

/** smtp-server in LMTP mode; `outcome` gives each recipient's reply after the data (undefined: accepted). */
async function lmtpServer(outcome: (address: string) => Error | undefined, listenOn: string | number = 0) {
  const deliveries: Delivery[] = [];
  const server = new SMTPServer({
    lmtp: true,
    authOptional: true,
    disableReverseLookup: true,
    hideSTARTTLS: true,
    hideENHANCEDSTATUSCODES: false,
    logger: false,
    closeTimeout: 50,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        deliveries.push({ rcptTo, data: Buffer.concat(chunks).toString('utf8') });
        // One answer per recipient: a string is a 250 with that text, an Error a refusal.
        callback(null, rcptTo.map((address) => outcome(address) ?? `delivered to ${address}`) as unknown as Parameters<typeof callback>[1]);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    if (typeof listenOn === 'string') server.listen(listenOn, () => resolve());
    else server.listen(listenOn, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function refusal(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

const HEADER: Array<[string, string]> = [['From', 'ann@example.org'], ['To', 'bob@example.net, carol@example.net, dave@example.net'], ['Subject', 'LMTP']];

describe('LMTP with smtp-server', () => {
  it('greets with LHLO and maps a refusal after the data into the refused list', async () => {
    // smtp-server writes the enhanced code itself, from the reply code.
    const server = await lmtpServer((address) => (address === 'carol@example.net' ? refusal(552, 'mailbox full') : undefined));
    const tok = initialize({ canonical: 'text/plain', string: 'Hello\r\n' });
    const lines: string[] = [];
    try {
      const refused = await sendmessage(tok, {
        servers: '127.0.0.1',
        ports: server.port,
        protocol: 'lmtp',
        header: HEADER,
        debug: (line) => lines.push(line),
      });
      expect(refused).toEqual([['carol@example.net', 552, expect.stringMatching(/^5\.\d+\.\d+ mailbox full$/)]]);
      expect(refused[0][2].startsWith(`${enhancedOf(refused[0])} `)).toBe(true);
      // A refused list sent through JSON or structuredClone keeps the enhanced code.
      expect(enhancedOf(JSON.parse(JSON.stringify(refused))[0])).toBe(enhancedOf(refused[0]));
      expect(enhancedOf(structuredClone(refused)[0])).toBe(enhancedOf(refused[0]));
      expect(enhancedOf(['x@y', 250, '5.1.1 class does not match the code'])).toBeNull();
      expect(lines).toContain('C: LHLO localhost');
      expect(lines.some((line) => /^C: (EHLO|HELO)/.test(line))).toBe(false);
      // One final reply per accepted recipient, after the end of data.
      const afterDot = lines.slice(lines.indexOf('C: .') + 1).filter((line) => line.startsWith('S: '));
      expect(afterDot.slice(0, 3)).toEqual([
        expect.stringMatching(/^S: 250 .*delivered to bob@example\.net$/),
        expect.stringMatching(/^S: 552 .*mailbox full$/),
        expect.stringMatching(/^S: 250 .*delivered to dave@example\.net$/),
      ]);
      expect(server.deliveries[0].rcptTo).toEqual(['bob@example.net', 'carol@example.net', 'dave@example.net']);
    } finally {
      finalize(tok);
      await server.close();
    }
  });

  it('rejects with every refusal when no recipient took the message', async () => {
    const server = await lmtpServer(() => refusal(550, 'no such mailbox'));
    const tok = initialize({ canonical: 'text/plain', string: 'Hello\r\n' });
    try {
      const error = await thrown(sendmessage(tok, { servers: '127.0.0.1', ports: server.port, protocol: 'lmtp', header: HEADER }));
      expect(error).toMatchObject({ code: 'ESMTP', stage: 'dot', replyCode: 550 });
      expect(error.rejected.map(([address, code]) => [address, code])).toEqual([
        ['bob@example.net', 550],
        ['carol@example.net', 550],
        ['dave@example.net', 550],
      ]);
    } finally {
      finalize(tok);
      await server.close();
    }
  });

  it('delivers over a Unix socket given as a path', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tclmail-lmtp-'));
    const socket = path.join(dir, 'lmtp.sock');
    const server = await lmtpServer(() => undefined, socket);
    const tok = initialize({ canonical: 'text/plain', string: 'Over a socket\r\n' });
    try {
      const refused = await sendmessage(tok, { servers: socket, protocol: 'lmtp', header: [['From', 'ann@example.org'], ['To', 'bob@example.net']] });
      expect(refused).toEqual([]);
      expect(server.deliveries).toHaveLength(1);
      expect(server.deliveries[0].data).toContain('Over a socket');
    } finally {
      finalize(tok);
      await server.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('gives the step-by-step session every recipient reply after data()', async () => {
    const server = await lmtpServer((address) => (address === 'b@y.org' ? refusal(550, 'no such user') : undefined));
    const session = await connect({ server: '127.0.0.1', port: server.port, protocol: 'lmtp' });
    try {
      expect(session.protocol).toBe('lmtp');
      await session.ehlo();
      await session.mail('a@x.org');
      await session.rcpt('b@y.org');
      await session.rcpt('c@y.org');
      const reply = await session.data('Subject: x\r\n\r\nhi\r\n');
      expect(reply.code).toBe(250);
      expect(session.replies.map((r) => r.code)).toEqual([550, 250]);
      expect(session.replies[0].text).toMatch(/no such user$/);
    } finally {
      await session.quit();
      await server.close();
    }
  });
});

describe('LMTP on the wire (scripted server)', () => {
  it('does not fall back to HELO when LHLO is refused', async () => {
    const srv = await scriptedServer({ on: { LHLO: '500 5.5.1 what?' } });
    try {
      const session = await connect({ server: '127.0.0.1', port: srv.port, protocol: 'lmtp' });
      const error = await thrown(session.ehloOrHelo());
      expect(error).toMatchObject({ stage: 'ehlo', replyCode: 500 });
      await session.quit();
      expect(srv.transcript[0].filter((line) => /^(LHLO|HELO|EHLO)/.test(line))).toEqual(['LHLO localhost']);
    } finally {
      await srv.close();
    }
  });

  it('defaults to port 24 for LMTP and to localhost as the name for a socket', () => {
    const tok = initialize({ canonical: 'text/plain', string: 'x' });
    try {
      const header: Array<[string, string]> = [['From', 'a@x.org'], ['To', 'b@y.org']];
      expect(planSend(tok, [{ servers: 'mx.example.org', protocol: 'lmtp', header }]).targets).toEqual([{ server: 'mx.example.org', port: 24 }]);
      expect(planSend(tok, [{ servers: '/run/dovecot/lmtp', protocol: 'lmtp', header }]).client).toBe('localhost');
    } finally {
      finalize(tok);
    }
  });
});
