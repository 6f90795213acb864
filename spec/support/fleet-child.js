/**
 * A fleet worker in a process of its own, for the chaos and rate tests
 * (spec/smtp/bulk/fleet/*.heavy.test.ts): the tests kill it, freeze it and
 * take Redis away under it. It runs the TypeScript sources as they are (each
 * file transpiled on load), so it needs no build. Settings come as one JSON
 * argument:
 *   { "url": "redis://127.0.0.1:6379", "port": 2525, "workerId": "w0", "concurrency": 4, "leaseSecs": 4 }
 * Each message carries an `X-Fleet-Worker` header naming the worker. Every
 * event is written to stdout as one JSON line; SIGTERM stops gracefully and
 * exits 0, as `tclmail worker` does.
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Transpiled files are kept by content digest, so that the second and later workers start in a moment
// instead of each transpiling the whole library again.
const CACHE = path.join(os.tmpdir(), 'tclmail-fleet-child-cache');
let ts = null;

require.extensions['.ts'] = function load(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  let outputText;
  try {
    outputText = fs.readFileSync(cached, 'utf8');
  } catch {
    ts = ts || require('typescript');
    outputText = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
    }).outputText;
    fs.mkdirSync(CACHE, { recursive: true });
    const temporary = `${cached}.${process.pid}`;
    fs.writeFileSync(temporary, outputText);
    fs.renameSync(temporary, cached);
  }
  module._compile(outputText, filename);
};

const { startWorker, renderRawTemplate } = require('../../smtp/bulk/fleet');

const settings = JSON.parse(process.argv[2]);

function line(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

async function main() {
  const worker = await startWorker({
    connection: settings.url,
    servers: ['127.0.0.1'],
    ports: [settings.port],
    usetls: false,
    concurrency: settings.concurrency,
    leaseSecs: settings.leaseSecs,
    stalledSecs: settings.stalledSecs,
    pollMs: 200,
    retryDelay: 0.5,
    maxRetryDelay: 2,
    maxsecs: settings.maxsecs || 60,
    workerId: settings.workerId,
    render: (campaign, item) => ({ token: renderRawTemplate(campaign, item), options: { header: [['X-Fleet-Worker', settings.workerId]] } }),
    onEvent: (event) => {
      if (event.type === 'error') line({ type: 'error', message: String(event.error && event.error.message) });
      else if (event.type !== 'outcome' || event.state !== 'sent') line(event);
    },
  });
  line({ type: 'ready', id: worker.id, pid: process.pid });
  process.once('SIGTERM', () => {
    // While the close lasts, say every 5 s what it still waits for: a test that has to SIGKILL a worker shows why.
    line({ type: 'stopping', stats: worker.stats() });
    setInterval(() => line({ type: 'still-stopping', stats: worker.stats() }), 5000).unref();
    worker.close().then(
      () => {
        line({ type: 'closed', stats: worker.stats() });
        process.exit(0);
      },
      (error) => {
        process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
