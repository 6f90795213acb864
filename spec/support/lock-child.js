/**
 * One contender of the lock race (spec/smtp/bulk/journal-lock.test.ts): a
 * process that, at each round the parent announces over IPC, waits for the
 * agreed instant and opens the journal, says whether it got it, and closes it
 * when told. It runs the TypeScript sources as they are (transpiled on load).
 */
'use strict';
require('./transpile-on-load');

const { FileLedger } = require('../../smtp/bulk/journal');

let held = null;

process.on('message', async (message) => {
  if (message.type === 'go') {
    // Spin to the agreed instant so that both contenders start together.
    while (Date.now() < message.at) {
      /* busy wait */
    }
    try {
      held = await FileLedger.open(message.file);
      process.send({ type: 'result', round: message.round, ok: true });
    } catch (error) {
      process.send({ type: 'result', round: message.round, ok: false, error: `${error.name}: ${error.message}` });
    }
  } else if (message.type === 'release') {
    if (held) await held.close();
    held = null;
    process.send({ type: 'released', round: message.round });
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});
process.send({ type: 'ready' });
