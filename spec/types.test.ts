/**
 * The package as a TypeScript user compiles against it: small files that
 * import `tclmail` by its name (a temporary project whose node_modules/tclmail
 * holds links to this repository's package.json and built dist/, as the
 * tarball would) go through the TypeScript compiler under `strict`. The right
 * forms compile with no error, inside the package's declarations included;
 * each mistake below is an error that names it.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { ensureBuilt, ROOT } from './cli/helpers';

let project: string;
const parsed = new Map<string, ts.SourceFile | undefined>();

beforeAll(() => {
  ensureBuilt();
  project = mkdtempSync(join(tmpdir(), 'tclmail-types-'));
  // Only what the tarball ships: the repository's .ts sources beside it would resolve where dist/ does not.
  const installed = join(project, 'node_modules', 'tclmail');
  mkdirSync(installed, { recursive: true });
  symlinkSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
  symlinkSync(join(ROOT, 'dist'), join(installed, 'dist'), 'dir');
}, 180000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

/** Compiles the files (name → text) together and returns each file's errors as flattened text. */
function compile(files: Record<string, string>, options: ts.CompilerOptions): Map<string, string[]> {
  const names = Object.entries(files).map(([name, text]) => {
    const path = join(project, name);
    writeFileSync(path, text);
    return path;
  });
  const settings: ts.CompilerOptions = { strict: true, noEmit: true, typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'], ...options };
  const host = ts.createCompilerHost(settings);
  const read = host.getSourceFile.bind(host);
  // The declarations of Node and of the package are parsed once for all the programs of this file.
  host.getSourceFile = (fileName, language, ...rest) => {
    if (fileName.startsWith(project)) return read(fileName, language, ...rest);
    const key = `${fileName}|${JSON.stringify(language)}`;
    if (!parsed.has(key)) parsed.set(key, read(fileName, language, ...rest));
    return parsed.get(key);
  };
  const program = ts.createProgram(names, settings, host);
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? d.file.fileName.replace(`${project}/`, '').replace(`${ROOT}/`, 'tclmail/') : '(options)';
    const list = errors.get(file) ?? [];
    list.push(`TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    errors.set(file, list);
  }
  return errors;
}

const PREAMBLE = `
import { mime, smtp } from 'tclmail';
declare const tok: mime.Token;
declare const session: smtp.Session;
`;

/** Every public command in both forms, as the docs show them. */
const CORRECT = `${PREAMBLE}
import type { SendMessageOptions, PoolOptions, ConnectOptions } from 'tclmail/smtp';
import { initialize } from 'tclmail/mime';
export async function all(): Promise<void> {
  const a = mime.initialize({ canonical: 'text/plain', param: [['charset', 'utf-8']], header: ['Subject', 'Hi'], string: 'hello' });
  const b = initialize('-canonical', 'text/plain', '-string', 'hello');
  mime.initialize({ canonical: 'multipart/mixed', parts: [a, b] });
  mime.initialize();
  mime.setheader(a, 'Subject', 'again', { mode: 'append' });
  mime.setheader(a, 'Subject', 'again', '-mode', 'append');
  mime.getbody(a, { decode: true, blocksize: 10, command: (event) => event });
  mime.getbody(a, '-decode');
  mime.word_encode('utf-8', 'base64', 'x', { charset_encoded: false, maxlength: 40 });
  mime.word_encode('utf-8', 'base64', 'x', '-charset_encoded', 0);
  mime.finalize(a, { subordinates: 'all' });
  mime.finalize(b, '-subordinates', 'all');

  const options: SendMessageOptions = { servers: ['mx.example'], ports: [25, 587], atleastone: true, header: [['To', 'a@b.example']] };
  await smtp.sendmessage(tok, options);
  await smtp.sendmessage(tok, '-servers', 'mx.example', '-atleastone', 1);
  const connectOptions: ConnectOptions = { server: 'mx.example', port: 587 };
  const s = await smtp.connect(connectOptions);
  await smtp.connect('-server', 'mx.example');
  await s.login('user', 'secret', { mechanism: 'PLAIN' });
  await s.sendmail('a@b.example', ['c@d.example'], 'Subject: hi\\r\\n\\r\\nhi\\r\\n', { requiretls: false });
  const poolOptions: PoolOptions = { servers: ['mx.example'] };
  const pool = smtp.pool(poolOptions);
  smtp.pool('-servers', 'mx.example');
  await pool.sendmessage(tok, { header: ['Subject', 'x'] });
  await pool.sendmessage(tok, '-header', ['Subject', 'x']);
  smtp.sendmany([tok], { servers: ['mx.example'] });
  smtp.sendmany([tok], '-servers', 'mx.example');
}
`;

/** Each mistake, and a part of the error the compiler must give for it. */
const MISTAKES: Array<[name: string, code: string, error: RegExp]> = [
  ['misspelled sendmessage option', `smtp.sendmessage(tok, { servers: ['x'], atleastonee: true });`, /'atleastonee' does not exist .*Did you mean to write 'atleastone'\?/],
  ['wrong type in a sendmessage option', `smtp.sendmessage(tok, { ports: [true] });`, /Type 'boolean' is not assignable to type 'number'/],
  ['misspelled initialize option', `mime.initialize({ canonicl: 'text/plain' });`, /'canonicl' does not exist .*Did you mean to write 'canonical'\?/],
  ['wrong type in initialize', `mime.initialize({ canonical: 'multipart/mixed', parts: 'x' });`, /Type 'string' is not assignable to type 'Token\[\]'/],
  ['misspelled setheader option', `mime.setheader(tok, 'Subject', 'x', { mod: 'append' });`, /'mod' does not exist/],
  ['unknown setheader mode', `mime.setheader(tok, 'Subject', 'x', { mode: 'add' });`, /Type '"add"' is not assignable/],
  ['misspelled getbody option', `mime.getbody(tok, { decod: true });`, /Did you mean to write 'decode'\?/],
  ['misspelled finalize option', `mime.finalize(tok, { subordinate: 'all' });`, /Did you mean to write 'subordinates'\?/],
  ['misspelled word_encode option', `mime.word_encode('utf-8', 'base64', 'x', { maxlen: 40 });`, /'maxlen' does not exist/],
  ['misspelled connect option', `void smtp.connect({ sever: 'x' });`, /Did you mean to write 'server'\?/],
  ['misspelled pool option', `smtp.pool({ servers: ['x'], maxconnections: 2 });`, /'maxconnections' does not exist/],
  ['misspelled pool send option', `declare const p: smtp.Pool; void p.sendmessage(tok, { heder: ['A', 'b'] });`, /Did you mean to write 'header'\?/],
  ['misspelled sendmany option', `smtp.sendmany([tok], { server: ['x'] });`, /Did you mean to write 'servers'\?/],
  ['misspelled login option', `void session.login('u', 'p', { mechanisms: 'PLAIN' });`, /Did you mean to write 'mechanism'\?/],
  ['misspelled sendmail option', `void session.sendmail('a@b', ['c@d'], 'x', { requiretl: true });`, /Did you mean to write 'requiretls'\?/],
  ['flat list that does not start with an option name', `mime.initialize('canonical', 'text/plain');`, /not assignable to parameter of type '`-\$\{string\}`'/],
];

describe('the object form is checked by the compiler', () => {
  let errors: Map<string, string[]>;

  beforeAll(() => {
    const files: Record<string, string> = { 'correct.ts': CORRECT };
    MISTAKES.forEach(([, code], i) => {
      files[`mistake${i}.ts`] = `${PREAMBLE}\n${code}\n`;
    });
    errors = compile(files, { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 });
  }, 120000);

  it('compiles every public command in both forms with no error', () => {
    expect(errors.get('correct.ts')).toBeUndefined();
  });

  it.each(MISTAKES.map(([name, code, error], i) => [name, code, error, i] as const))('refuses a %s: %s', (_name, _code, error, i) => {
    const found = errors.get(`mistake${i}.ts`) ?? [];
    expect(found).toHaveLength(1);
    expect(found[0].replace(/\n/g, ' ')).toMatch(error);
  });

  it('reports nothing inside the package', () => {
    expect([...errors.keys()].filter((file) => file.startsWith('tclmail/'))).toEqual([]);
  });
});

describe('the declarations under other compiler settings', () => {
  const CONSUMER = `
import { mime } from 'tclmail';
import type { SendMessageOptions } from 'tclmail/smtp';
import type { InitializeOptions } from 'tclmail/mime';
import type { BounceReport } from 'tclmail/bounce';
export type Report = BounceReport;
const options: SendMessageOptions = { servers: ['mx.example'] };
const init: InitializeOptions = { canonical: 'text/plain', string: 'hi' };
export const tok = mime.initialize(init);
export { options };
`;

  it('compiles at the ES5 target that TypeScript 5 used by default (no #private in the declarations)', () => {
    const errors = compile(
      { 'es5.ts': CONSUMER },
      { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, lib: ['lib.es2015.d.ts'], ignoreDeprecations: '6.0' },
    );
    expect(Object.fromEntries(errors)).toEqual({});
  }, 120000);

  it("resolves 'tclmail/smtp', 'tclmail/mime' and 'tclmail/bounce' under moduleResolution node10 (typesVersions)", () => {
    const errors = compile(
      { 'node10.ts': CONSUMER },
      { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, ignoreDeprecations: '6.0' },
    );
    expect(Object.fromEntries(errors)).toEqual({});
  }, 120000);

  it('resolves them under moduleResolution bundler', () => {
    const errors = compile({ 'bundler.ts': CONSUMER }, { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler });
    expect(Object.fromEntries(errors)).toEqual({});
  }, 120000);
});
