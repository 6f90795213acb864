/**
 * A script that always passes a username and password (Tcllib's maildemo
 * does), sent to a real SMTP server (the npm smtp-server on 127.0.0.1) that
 * offers no AUTH: sendmessage sends without authenticating, as Tcllib does,
 * and says so in the debug transcript; session.login() stays an error that
 * says what to do, as Python's smtplib raises one.
 */
import * as mime from '../../mime';
import { connect } from '../../smtp/protocol/session';
import { sendmessage } from '../../smtp/sendmessage';
import { failure, releaseToken, tracked } from '../support/fixtures';
import { realServer, type RealServer } from '../support/real-server';

const track = tracked();

async function noAuthServer(): Promise<RealServer> {
  return track.add(await realServer({ disabledCommands: ['STARTTLS', 'AUTH'] }));
}

function token(): mime.Token {
  return track.add(mime.initialize({ canonical: 'text/plain', string: 'Hello.\r\n', header: [['From', 'ann@example.org'], ['To', 'bob@example.net'], ['Subject', 'maildemo']] }), releaseToken);
}

describe('username and password to a server that offers no AUTH', () => {
  it('sendmessage sends unauthenticated (as Tcllib) and the debug transcript says so; no credential reaches the wire', async () => {
    const srv = await noAuthServer();
    const transcript: string[] = [];
    await expect(
      sendmessage(token(), { servers: ['127.0.0.1'], ports: [srv.port], usetls: false, username: 'ann', password: 's3cret-Pa55', debug: (line: string) => transcript.push(line) }),
    ).resolves.toEqual([]);
    expect(srv.messages).toHaveLength(1);
    expect(srv.messages[0]).toMatchObject({ mailFrom: 'ann@example.org', rcptTo: ['bob@example.net'], user: undefined });
    expect(srv.auths).toEqual([]);
    const all = transcript.join('\n');
    expect(all).toMatch(/127\.0\.0\.1 offers no AUTH: sending without authenticating \(username "ann" not used\)/);
    expect(all).not.toMatch(/C: AUTH/);
    expect(all).not.toContain('s3cret-Pa55');
  });

  it('the Tcl form does the same', async () => {
    const srv = await noAuthServer();
    await expect(sendmessage(token(), '-servers', '127.0.0.1', '-ports', srv.port, '-usetls', 0, '-username', 'ann', '-password', 'x')).resolves.toEqual([]);
    expect(srv.messages).toHaveLength(1);
  });

  it('session.login() is an EAUTH error that says what to do', async () => {
    const srv = await noAuthServer();
    const session = await connect({ server: '127.0.0.1', port: srv.port });
    try {
      await session.ehloOrHelo();
      const error = await failure(session.login('ann', 'x'));
      expect(error.code).toBe('EAUTH');
      expect(error.stage).toBe('auth');
      expect(error.message).toMatch(/127\.0\.0\.1 offers no AUTH mechanism: send without login\(\) \(smtp\.sendmessage does so by itself here\), or call starttls\(\) first/);
    } finally {
      await session.quit();
    }
    expect(srv.auths).toEqual([]);
  });
});
