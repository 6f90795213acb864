/**
 * The peers the smtp tests talk to, opened and let go of around the tests of
 * a describe block: scripted, BDAT and smtp-server servers and client
 * sessions after each test; a throw-away Postfix after the whole block.
 */
import { connect } from '../../smtp/protocol/session';
import type { TclWords } from '../../lib/options';
import { tracked } from '../support/fixtures';
import { type PostfixOptions, type PostfixServer, startPostfix } from '../support/postfix';
import { realServer } from '../support/real-server';
import { scriptedServer } from '../support/scripted-server';
import { bdatServer } from './protocol/bdat-server';

/**
 * Openers whose servers and sessions are closed after each test of the
 * calling describe block, the newest first (sessions before their server).
 * A session ends with QUIT (`quit`) or by dropping the connection (`close`).
 */
export function liveScope(ending: 'quit' | 'close' = 'close') {
  const track = tracked();
  const open = async (...args: unknown[]) => track.add(await connect(...(args as TclWords)), (session) => (ending === 'quit' ? session.quit() : session.close()));
  return {
    scriptedServer: track.opener(scriptedServer),
    realServer: track.opener(realServer),
    bdatServer: track.opener(bdatServer),
    connect: open as typeof connect,
  };
}

/** Starts a Postfix before the tests of the calling describe block, hands it to `receive`, and stops it after them. */
export function usePostfix(receive: (server: PostfixServer) => void, options?: PostfixOptions): void {
  let server: PostfixServer | undefined;
  beforeAll(async () => {
    server = await startPostfix(options);
    receive(server);
  }, 30000);
  afterAll(async () => {
    await server?.stop();
  });
}
