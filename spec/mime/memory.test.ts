/**
 * A file body is streamed, never held: copymessage of a message with a
 * ~300 MB attachment, in a child process of its own, keeps that process's
 * peak resident memory under 100 MB. The child loads the built package
 * (dist/mime), which is rebuilt first when it is missing or older than the
 * sources.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUILT_MIME, ensureBuiltMime } from '../support/built-mime';

const ROOT = resolve(__dirname, '..', '..');
const DIST = BUILT_MIME;
const SIZE = 300 * 1024 * 1024;
const LIMIT = 100 * 1024 * 1024;

// The child: builds a multipart with the big file attached, checks messageSize, copies it to a Writable that drops everything.
const CHILD = `
const mime = require(process.argv[1]);
const { Writable } = require('node:stream');
const path = process.argv[2];
const text = mime.initialize({ canonical: 'text/plain', string: 'The attachment follows.' });
const file = mime.initialize({ canonical: 'application/octet-stream', file: path, header: [['Content-Disposition', 'attachment; filename=big.bin']] });
const message = mime.initialize({ canonical: 'multipart/mixed', parts: [text, file], header: [['Subject', 'big']] });
let written = 0;
const sink = new Writable({ write(chunk, encoding, done) { written += chunk.length; done(); } });
(async () => {
  const expected = await mime.messageSize(message);
  await mime.copymessage(message, sink);
  process.stdout.write(JSON.stringify({ written, expected, maxRSS: process.resourceUsage().maxRSS * 1024 }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('copymessage of a large file body', () => {
  let dir: string;
  let path: string;

  beforeAll(() => {
    ensureBuiltMime();
    dir = mkdtempSync(join(tmpdir(), 'tclmail-memory-'));
    path = join(dir, 'big.bin');
    // A sparse file: 300 MB long, no disk space used.
    const fd = openSync(path, 'w');
    try {
      ftruncateSync(fd, SIZE);
    } finally {
      closeSync(fd);
    }
  }, 180000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // V8 frees the backing stores of dead Buffers on background threads; when they are starved,
  // freed chunks pile up and lift the peak (seen beside a busy second Jest worker: 123 MB instead
  // of 64 MB). `npm test` therefore runs this file alone (jest.alone.config.js), and up to three
  // runs are made with the lowest peak counting: a copy that held the attachment would need
  // 400 MB or more in every one of them.
  it('keeps peak RSS under 100 MB and writes exactly messageSize bytes', () => {
    expect(existsSync(DIST)).toBe(true);
    const peaks: number[] = [];
    for (let attempt = 0; attempt < 3 && !(Math.min(...peaks) < LIMIT); attempt++) {
      const child = spawnSync(process.execPath, ['-e', CHILD, DIST, path], { cwd: ROOT, encoding: 'utf8', timeout: 170000 });
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      const result = JSON.parse(child.stdout) as { written: number; expected: number; maxRSS: number };
      expect(result.written).toBe(result.expected);
      expect(result.written).toBeGreaterThan((SIZE * 4) / 3);
      peaks.push(result.maxRSS);
    }
    expect(Math.min(...peaks)).toBeLessThan(LIMIT);
  }, 540000);
});
