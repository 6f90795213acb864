/**
 * `tclmail send` run as a child process against real servers on 127.0.0.1:
 * the capture server in-process, an smtp-server that checks the password, and
 * a scripted raw server that drops the line after the end of data. Each case
 * checks the exit status, what was printed and what the server stored.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { captureWork } from '../support/capture-work';
import { closedPort } from '../support/fixtures';
import { passwordServer } from '../support/password-server';
import type { PasswordServer } from '../support/password-server';
import { ensureBuilt, run } from './helpers';

beforeAll(() => ensureBuilt(), 180_000);

const capture = captureWork('tclmail-send-', { refuse: (address) => address === 'nobody@example.com' });
const at = (): string[] => ['send', ...capture.servers()];
const stored = (): string[] => readdirSync(join(capture.work, 'mail', 'new'));

describe('tclmail send: exit statuses', () => {
  it('exits 0 and prints nothing when every recipient is accepted; Bcc gets it without a header', async () => {
    const result = await run([...at(), '--from', 'Ann <ann@example.com>', '--to', 'bob@example.com', '--cc', 'cy@example.com',
      '--bcc', 'dee@example.com', '--subject', 'Grüße', '--body', 'Hello Bob\n']);
    expect(result).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(capture.seen).toHaveLength(1);
    expect(capture.seen[0].from).toBe('ann@example.com');
    expect(capture.seen[0].to).toEqual(['bob@example.com', 'cy@example.com', 'dee@example.com']);
    const raw = readFileSync(capture.seen[0].path, 'utf8');
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(raw).not.toMatch(/dee@example\.com/);
    const mail = await simpleParser(raw);
    expect(mail.subject).toBe('Grüße');
    expect(mail.text).toBe('Hello Bob\n');
    expect(mail.from?.value).toEqual([{ name: 'Ann', address: 'ann@example.com' }]);
    expect(raw).toMatch(/^From: Ann <ann@example\.com>\r$/m);
  });

  it('with --atleastone exits 1, sends to the accepted recipient and prints the refused one', async () => {
    const result = await run([...at(), '--atleastone', '--from', 'ann@example.com', '--to', 'bob@example.com,nobody@example.com', '--body', 'x']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('refused nobody@example.com 550 5.1.1 mailbox unavailable\n');
    expect(capture.seen.map((m) => m.to)).toEqual([['bob@example.com']]);
  });

  it('without --atleastone exits 2 and sends nothing when a recipient is refused, still printing it', async () => {
    const result = await run([...at(), '--from', 'ann@example.com', '--to', 'bob@example.com', '--to', 'nobody@example.com', '--body', 'x']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('refused nobody@example.com 550 5.1.1 mailbox unavailable\n');
    expect(result.stderr).toMatch(/^tclmail send: not sent: /);
    expect(stored()).toEqual([]);
  });

  it('exits 2 and lists every server it tried when none can be reached', async () => {
    const closed = await closedPort();
    const result = await run(['send', '--servers', '127.0.0.1,127.0.0.1', '--ports', `${closed},${closed}`, '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x']);
    expect(result.status).toBe(2);
    const attempts = result.stderr.split('\n').filter((l) => l.startsWith(`  127.0.0.1:${closed} connect`));
    expect(attempts).toHaveLength(2);
  });

  it('fails over to the next server', async () => {
    const closed = await closedPort();
    const result = await run(['send', '--servers', '127.0.0.1,127.0.0.1', '--ports', `${closed},${capture.server.port}`, '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x']);
    expect(result.status).toBe(0);
    expect(capture.seen).toHaveLength(1);
  });

  it('exits 3 (outcome unknown) when the line drops after the end of data, and does not resend', async () => {
    const dropper = await droppingServer();
    try {
      const result = await run(['send', '--servers', '127.0.0.1,127.0.0.1', '--ports', `${dropper.port},${capture.server.port}`, '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x']);
      expect(result.status).toBe(3);
      expect(result.stderr).toMatch(/^tclmail send: outcome unknown: .*may have been delivered/m);
      expect(dropper.messages).toBe(1);
      expect(capture.seen).toHaveLength(0); // no silent failover to the second server
    } finally {
      await new Promise((resolve) => dropper.server.close(resolve));
    }
  });
});

describe('tclmail send: the message', () => {
  it('reads the body from standard input when no body flag is given', async () => {
    const result = await run([...at(), '--from', 'a@example.com', '--to', 'b@example.com', '--subject', 'piped'], { input: 'from a pipe\n' });
    expect(result.status).toBe(0);
    expect((await simpleParser(readFileSync(capture.seen[0].path))).text).toBe('from a pipe\n');
  });

  it('reads the body from --body-file, and from standard input with --body-file -', async () => {
    const file = join(capture.work, 'body.txt');
    writeFileSync(file, 'from a file\n');
    expect((await run([...at(), '--from', 'a@example.com', '--to', 'b@example.com', '--body-file', file])).status).toBe(0);
    expect((await run([...at(), '--from', 'a@example.com', '--to', 'b@example.com', '--body-file', '-'], { input: 'dash\n' })).status).toBe(0);
    const texts = await Promise.all(capture.seen.map(async (m) => (await simpleParser(readFileSync(m.path))).text));
    expect(texts).toEqual(['from a file\n', 'dash\n']);
  });

  it('attaches files and adds an HTML alternative', async () => {
    const csv = join(capture.work, 'report.csv');
    const bin = join(capture.work, 'blob.bin');
    const html = join(capture.work, 'body.html');
    writeFileSync(csv, 'a,b\n1,2\n');
    writeFileSync(bin, Buffer.from([0, 1, 2, 255, 254, 13, 10, 46]));
    writeFileSync(html, '<p>Hi <b>there</b></p>\n');
    const result = await run([...at(), '--from', 'a@example.com', '--to', 'b@example.com', '--subject', 'files',
      '--body', 'see attached', '--html', html, '--attach', csv, '--attach', bin, '--header', 'X-Job: nightly']);
    expect(result.status).toBe(0);
    const mail = await simpleParser(readFileSync(capture.seen[0].path));
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/mixed' });
    expect(mail.headers.get('x-job')).toBe('nightly');
    expect(mail.text?.trim()).toBe('see attached');
    expect(mail.html).toMatch(/<p>Hi <b>there<\/b><\/p>/);
    expect(mail.attachments.map((a) => [a.filename, a.contentType, a.content.toString('hex')])).toEqual([
      ['report.csv', 'text/csv', Buffer.from('a,b\r\n1,2\r\n').toString('hex')],
      ['blob.bin', 'application/octet-stream', '000102fffe0d0a2e'],
    ]);
  });

  it('sends an existing .eml file as it is, with --header fields added and the envelope from --recipients', async () => {
    const eml = join(capture.work, 'saved.eml');
    writeFileSync(eml, 'From: old@example.com\r\nTo: list@example.com\r\nSubject: Saved\r\n\r\nkept body\r\n');
    const result = await run([...at(), '--eml', eml, '--header', 'X-Resent-By: tclmail', '--recipients', 'archive@example.com']);
    expect(result.status).toBe(0);
    expect(capture.seen[0].to).toEqual(['archive@example.com']);
    expect(capture.seen[0].from).toBe('old@example.com');
    const mail = await simpleParser(readFileSync(capture.seen[0].path));
    expect(mail.subject).toBe('Saved');
    expect(mail.headers.get('x-resent-by')).toBe('tclmail');
    expect(mail.text).toBe('kept body\n');
  });

  it("sends with the null sender <> for --originator ''", async () => {
    const result = await run([...at(), '--originator', '', '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'bounce']);
    expect(result.status).toBe(0);
    expect(capture.seen[0].from).toBe('');
    expect(capture.seen[0].to).toEqual(['b@example.com']);
  });

  it('writes the dialogue to standard error with --debug', async () => {
    const result = await run([...at(), '--debug', '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x']);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/MAIL FROM:<a@example\.com>/);
    expect(result.stderr).toMatch(/RCPT TO:<b@example\.com>/);
  });
});

describe('tclmail send: usage errors exit 64 and send nothing', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['--colour', 'red'], /Unknown option '--colour'/],
    ['--server for --servers', ['--server', '127.0.0.1'], /Unknown option '--server': did you mean --servers\?/],
    ['--port for --ports', ['--port', '25'], /Unknown option '--port': did you mean --ports\?/],
    ['--subjet for --subject', ['--subjet', 'x'], /Unknown option '--subjet': did you mean --subject\?/],
    ['a flag without its value', ['--to'], /--to/],
    ['--password on the command line', ['--password', 'hunter2'], /--password is not accepted.*--password-file FILE or TCLMAIL_PASSWORD/],
    ['a missing attachment', ['--attach', '/nonexistent/x.pdf'], /--attach \/nonexistent\/x\.pdf: no such file/],
    ['a header without a colon', ['--header', 'NoColon'], /--header expects 'Key: value'/],
    ['a line break in the subject (header injection)', ['--subject', 'hi\r\nBcc: evil@example.org'], /header Subject: CR/],
    ['a line break in an address (command injection)', ['--recipients', 'b@example.com>\r\nRSET'], /recipients: control character 0x0d/],
    ['--eml with message flags', ['--eml', __filename, '--subject', 'x'], /cannot be combined with .*--subject/],
    ['--starttls with --no-starttls', ['--starttls', '--no-starttls'], /contradict/],
    ['a bad port', ['--ports', '25,seventy'], /--ports: "seventy" is not a TCP port/],
    ['a password file without a user', ['--password-file', __filename], /--password-file was given but no --username/],
    ['a stray argument', ['extra'], /Unexpected argument 'extra'/],
  ];
  it.each(cases)('%s', async (_name, flags, message) => {
    const result = await run([...at(), '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x', ...flags]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Run 'tclmail send --help' for usage\./);
    expect(stored()).toEqual([]);
  });
});

describe('tclmail send: errors in the program\'s own words', () => {
  it('names --to, --cc, --bcc or --recipients when there is no recipient, not the library\'s -header "To ..."', async () => {
    const result = await run([...at(), '--from', 'a@example.com', '--body', 'x']);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/no recipients: give --to, --cc, --bcc or --recipients/);
    expect(result.stderr).not.toMatch(/-header|(^|\s)-recipients/m);
    expect(stored()).toEqual([]);
  });

  it('names --from when the message has no author', async () => {
    const result = await run([...at(), '--to', 'b@example.com', '--body', 'x']);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/--from/);
    expect(result.stderr).not.toMatch(/-header "From/);
  });
});

describe('tclmail send: the password', () => {
  let auth: PasswordServer & { ca: string };

  beforeAll(async () => {
    const server = await passwordServer();
    auth = { ...server, ca: join(tmpdir(), `tclmail-ca-${process.pid}.pem`) };
    writeFileSync(auth.ca, server.cert);
  });

  afterAll(async () => {
    await auth.close();
    rmSync(auth.ca, { force: true });
  });

  const base = (): string[] => ['send', '--servers', '127.0.0.1', '--ports', String(auth.port), '--ca', auth.ca, '--username', 'me',
    '--from', 'a@example.com', '--to', 'b@example.com', '--body', 'x'];

  it('reads it from the first line of --password-file, and sends it only over TLS', async () => {
    const file = join(capture.work, 'password');
    writeFileSync(file, 'correct horse\nsecond line ignored\n');
    const result = await run([...base(), '--password-file', file]);
    expect(result.status).toBe(0);
    expect(auth.logins.at(-1)).toEqual(['me', 'correct horse', true]);
  });

  it('reads it from TCLMAIL_PASSWORD', async () => {
    const result = await run(base(), { env: { TCLMAIL_PASSWORD: 'correct horse' } });
    expect(result.status).toBe(0);
    expect(auth.logins.at(-1)).toEqual(['me', 'correct horse', true]);
  });

  it('exits 2 when the server refuses the credentials', async () => {
    const result = await run(base(), { env: { TCLMAIL_PASSWORD: 'wrong' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/535/);
  });

  it('does not trust the server\'s certificate without --ca', async () => {
    const args = base().filter((word, i, all) => word !== '--ca' && all[i - 1] !== '--ca');
    const result = await run(args, { env: { TCLMAIL_PASSWORD: 'correct horse' } });
    expect(result.status).toBe(2);
    expect(auth.logins.filter(([, , secure]) => !secure)).toEqual([]);
  });
});

/** A scripted server that accepts the whole message and then drops the connection instead of replying to the dot. */
async function droppingServer(): Promise<{ server: Server; port: number; messages: number }> {
  const state = { server: undefined as unknown as Server, port: 0, messages: 0 };
  state.server = createServer((socket: Socket) => {
    let data = false;
    let buffer = '';
    socket.write('220 dropper ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      if (data) {
        if (buffer.includes('\r\n.\r\n')) {
          state.messages += 1;
          socket.destroy();
        }
        return;
      }
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const command = buffer.slice(0, end).toUpperCase();
        buffer = buffer.slice(end + 2);
        if (command.startsWith('EHLO')) socket.write('250-dropper\r\n250 8BITMIME\r\n');
        else if (command.startsWith('DATA')) {
          data = true;
          socket.write('354 go ahead\r\n');
          break;
        } else if (command.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}
