/**
 * The set-up the command-line tests of sending share: for each test a new
 * temporary folder and a capture server (cli/serve) on 127.0.0.1 storing into
 * its `mail` folder, with every message it accepts collected in `seen`; after
 * the test the server is closed and the folder removed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCaptureServer } from '../../cli/serve';
import type { CaptureServer, CaptureServerOptions, CapturedMessage } from '../../cli/serve';

export interface CaptureWork {
  /** The running test's folder. */
  readonly work: string;
  /** The running test's capture server; a test may close it and put another here, which is closed after the test. */
  server: CaptureServer;
  /** What the server accepted during the running test, in order. */
  readonly seen: CapturedMessage[];
  /** Writes `text` to `name` in the folder and gives back its path. */
  file: (name: string, text: string) => string;
  /** `--servers` and `--ports` naming the capture server. */
  servers: () => string[];
}

/**
 * Registers the beforeEach and afterEach hooks of the describe block (or file)
 * that calls it. Hooks the caller declares before this call run before its
 * afterEach (Jest runs them in the order they are declared): a test file with
 * clients of the server stops them there.
 */
export function captureWork(prefix: string, options: Pick<CaptureServerOptions, 'refuse'> = {}): CaptureWork {
  let work = '';
  let seen: CapturedMessage[] = [];
  let server: CaptureServer | undefined;
  const state: CaptureWork = {
    get work() {
      return work;
    },
    get server() {
      if (!server) throw new Error('the capture server runs only during a test');
      return server;
    },
    set server(next) {
      server = next;
    },
    get seen() {
      return seen;
    },
    file: (name, text) => {
      const path = join(work, name);
      writeFileSync(path, text);
      return path;
    },
    servers: () => ['--servers', '127.0.0.1', '--ports', String(state.server.port)],
  };

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), prefix));
    seen = [];
    server = await startCaptureServer({ dir: join(work, 'mail'), ...options, onMessage: (m) => seen.push(m) });
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(work, { recursive: true, force: true });
  });

  return state;
}
