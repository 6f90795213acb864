/**
 * `await using` on a session and on a pool: QUIT (the pool's close) when the
 * block ends, also when it ends by a throw.
 */
import * as smtp from '../../smtp';
import * as mime from '../../mime';
import { scriptedServer, type ScriptedServer } from '../support/scripted-server';

// See spec/mime/token-lifetime.test.ts: Jest's vm context lacks the symbols Node 20 and 22 put on their main realm.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(): Promise<ScriptedServer> {
  const srv = await scriptedServer({});
  servers.push(srv);
  return srv;
}

describe('Symbol.asyncDispose', () => {
  it('a session QUITs at the end of its block', async () => {
    const srv = await server();
    {
      await using session = await smtp.connect({ server: '127.0.0.1', port: srv.port });
      await session.noop();
      expect(session.state).toBe('ready');
    }
    await srv.closedConnection(0);
    expect(srv.transcript[0].slice(-1)).toEqual(['QUIT']);
  });

  it('a session QUITs when its block throws', async () => {
    const srv = await server();
    const run = async (): Promise<void> => {
      await using session = await smtp.connect({ server: '127.0.0.1', port: srv.port });
      await session.noop();
      throw new Error('the caller gave up');
    };
    await expect(run()).rejects.toThrow('the caller gave up');
    await srv.closedConnection(0);
    expect(srv.transcript[0]).toContain('QUIT');
  });

  it('a pool sends what it was given, then QUITs every session at the end of its block', async () => {
    const srv = await server();
    const tok = mime.initialize({ canonical: 'text/plain', string: 'hi' });
    {
      await using pool = smtp.pool({ servers: '127.0.0.1', ports: srv.port, header: [['From', 'a@example.org'], ['To', 'b@example.org']] });
      await pool.sendmessage(tok);
      expect(pool.connections).toBe(1);
    }
    await srv.closedConnection(0);
    expect(srv.received).toHaveLength(1);
    expect(srv.transcript[0].slice(-1)).toEqual(['QUIT']);
    mime.finalize(tok);
  });
});
