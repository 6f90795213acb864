/**
 * A bulk run in a process of its own, for the crash test (spec/smtp/bulk-crash.test.ts):
 * the test kills it with SIGKILL part way and starts it again on the same journal.
 * It runs the TypeScript sources as they are (each file transpiled on load), so
 * it needs no build. Settings come as one JSON argument:
 *   { "port": 2525, "journal": "/tmp/x/run.jsonl", "count": 200, "concurrency": 4 }
 * Every outcome is written to stdout as one JSON line; the last line is {"done":true}.
 */
'use strict';
require('./transpile-on-load');

const mime = require('../../mime');
const { sendmany } = require('../../smtp/bulk/sendmany');

const settings = JSON.parse(process.argv[2]);

function* messages() {
  for (let i = 0; i < settings.count; i++) {
    const id = `m${String(i).padStart(4, '0')}`;
    const token = mime.initialize({
      canonical: 'text/plain',
      string: `Notification ${id}.\r\n`,
      header: [
        ['From', `${id}@x.test`],
        ['To', 'all@y.test'],
        ['Subject', `Notification ${id}`],
        ['Message-ID', `<${id}@x.test>`],
      ],
    });
    yield { token, id };
  }
}

async function main() {
  const run = sendmany(messages(), {
    servers: ['127.0.0.1'],
    ports: [settings.port],
    usetls: false,
    concurrency: settings.concurrency,
    journal: settings.journal,
    retryDelay: 0.01,
  });
  for await (const o of run) {
    process.stdout.write(JSON.stringify({ id: o.id, status: o.status, journaled: o.journaled, attempts: o.attempts }) + '\n');
  }
  process.stdout.write('{"done":true}\n');
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
