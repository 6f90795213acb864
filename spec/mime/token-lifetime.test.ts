/**
 * How long a token's part lives: until finalize, the end of a `using` block,
 * or, for a token the caller drops without either, the next garbage
 * collection (tokens hold their parts weakly). And a -parts list with a hole
 * is a typed error naming the index.
 */
import { spawnSync } from 'node:child_process';
import { BUILT_MIME, ensureBuiltMime } from '../support/built-mime';
import * as mime from '../../mime';
import { MimeError, OptionError } from '../../lib/errors';

// Jest runs each file in a vm context of its own; on Node 20 and 22 that context lacks the Symbol.dispose Node puts
// on its main realm (Symbol.for('nodejs.dispose'), which lib/dispose.ts falls back to), and `using` needs it.
(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('nodejs.dispose');

const DIST = BUILT_MIME;

describe('-parts with holes or stale tokens', () => {
  it('a sparse array is an OptionError naming -parts and the index', () => {
    const attempt = (): unknown => mime.initialize({ canonical: 'multipart/mixed', parts: new Array(3) });
    expect(attempt).toThrow(OptionError);
    expect(attempt).toThrow('mime.initialize: -parts[0] is an empty slot (a sparse array, e.g. new Array(n)), not a MIME token from mime.initialize');
    try {
      attempt();
    } catch (error) {
      expect((error as OptionError).option).toBe('parts');
      expect((error as OptionError).code).toBe('EOPTION');
    }
  });

  it('names the index of a value that is not a token, and of a finalized token (MimeError ETOKEN, as before)', () => {
    const a = mime.initialize({ canonical: 'text/plain', string: 'a' });
    const gone = mime.initialize({ canonical: 'text/plain', string: 'b' });
    mime.finalize(gone);
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [a, undefined as unknown as mime.Token] })).toThrow('-parts[1] is undefined');
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [a, 7 as unknown as mime.Token] })).toThrow(expect.objectContaining({ name: 'MimeError', code: 'ETOKEN' }));
    expect(() => mime.initialize('-canonical', 'multipart/mixed', '-parts', [a, 'x'])).toThrow('-parts[1] is "x"');
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [a, gone] })).toThrow(MimeError);
    expect(() => mime.initialize({ canonical: 'multipart/mixed', parts: [a, gone] })).toThrow(`-parts[1] ${gone} has been finalized`);
    mime.finalize(a);
  });
});

describe('Symbol.dispose', () => {
  it('a token declared with using is finalized at the end of its block, with the parts parsing made', () => {
    let outer: mime.Token | undefined;
    let inner: mime.Token | undefined;
    {
      using tok = mime.initialize('-string', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n');
      outer = tok;
      [inner] = mime.getproperty(tok, 'parts');
      expect(mime.getproperty(inner, 'content')).toBe('text/plain');
    }
    expect(() => mime.getproperty(outer, 'content')).toThrow(/has been finalized/);
    expect(() => mime.getproperty(inner, 'content')).toThrow(/has been finalized/);
  });

  it('disposing a token already finalized does nothing', () => {
    const tok = mime.initialize({ canonical: 'text/plain', string: 'a' });
    mime.finalize(tok);
    expect(() => tok[Symbol.dispose]()).not.toThrow();
  });
});

// The child: 2,000 tokens of 50 KB each, dropped without finalize; what the heap keeps after a full collection.
const CHILD = `
const mime = require(process.argv[1]);
const settle = async () => { for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } };
const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.external; };
(async () => {
  await settle();
  const before = used();
  let made = 0;
  for (let i = 0; i < 2000; i++) {
    const body = String.fromCharCode(97 + (i % 26)).repeat(50 * 1024) + i;
    const tok = mime.initialize({ canonical: 'text/plain', string: body, header: [['Subject', 'n' + i]] });
    made += mime.getproperty(tok, 'size');
  }
  const full = used();
  await settle();
  process.stdout.write(JSON.stringify({ made, peak: full - before, kept: used() - before }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

describe('tokens the caller drops', () => {
  beforeAll(() => {
    ensureBuiltMime();
  });

  it('2,000 dropped 50 KB tokens keep well under 100 MB after a collection', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD, DIST], { encoding: 'utf8', timeout: 60000 });
    expect(child.stderr).toBe('');
    const { made, kept } = JSON.parse(child.stdout) as { made: number; peak: number; kept: number };
    expect(made).toBeGreaterThan(2000 * 50 * 1024);
    // A Map of live tokens kept all ~100 MB of bodies; held weakly, what stays is the module's own small caches.
    expect(kept).toBeLessThan(10 * 1024 * 1024);
  });
});
