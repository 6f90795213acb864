/**
 * The quick start (`npm start`): the main job end to end, with no mail server
 * installed. It starts the capture server on a free loopback port with a
 * policy that refuses one address, builds a multipart/mixed message with a
 * text part and a small attachment through the mime API, sends it with
 * `smtp.sendmessage` to two recipients with `atleastone`, prints the refused
 * recipient and the stored .eml file, and stops the server.
 *
 * The Tcl it mirrors (Tcllib reads To only from `-header`; tclmail also reads
 * the fields set on the part, so the message sends as written):
 * ```tcl
 * set text [mime::initialize -canonical text/plain -string $body]
 * set data [mime::initialize -canonical text/csv -param {name report.csv} \
 *               -header {Content-Disposition {attachment; filename="report.csv"}} -string $csv]
 * set msg  [mime::initialize -canonical multipart/mixed -parts [list $text $data]]
 * mime::setheader $msg From "Report job <reports@example.com>"
 * mime::setheader $msg Subject "Nightly report"
 * set refused [smtp::sendmessage $msg -servers 127.0.0.1 -ports $port -atleastone 1 \
 *                  -header {To "ops@example.com, nobody@example.com"}]
 * mime::finalize $msg -subordinates all
 * ```
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mime, smtp } from '../index';
import { startCaptureServer } from '../cli/serve';

const REFUSED = 'nobody@example.com';

export async function quickstart(log: (text: string) => void = console.log): Promise<{ refused: Array<[string, number, string]>; stored: string[] }> {
  // 1. A capture server: a real SMTP server that stores what it accepts as .eml files.
  const dir = mkdtempSync(join(tmpdir(), 'tclmail-quickstart-'));
  const stored: string[] = [];
  const server = await startCaptureServer({
    dir,
    refuse: (address) => (address.toLowerCase() === REFUSED ? { code: 550, message: '5.1.1 no such user here' } : false),
    onMessage: (message) => stored.push(message.path),
  });
  log(`capture server listening on ${server.host}:${server.port}, storing messages in ${join(dir, 'new')}`);

  try {
    // 2. The message: a text part and a small CSV attachment in a multipart/mixed.
    const text = mime.initialize({
      canonical: 'text/plain',
      string: 'Good morning,\n\nlast night\'s report is attached.\n\n-- \nthe report job\n',
    });
    const csv = mime.initialize({
      canonical: 'text/csv',
      param: [['name', 'report.csv']],
      header: [['Content-Disposition', 'attachment; filename="report.csv"']],
      string: 'job,status,seconds\nbackup,ok,412\nreindex,ok,97\n',
    });
    const message = mime.initialize({ canonical: 'multipart/mixed', parts: [text, csv] });
    mime.setheader(message, 'From', 'Report job <reports@example.com>');
    mime.setheader(message, 'To', `ops@example.com, ${REFUSED}`);
    mime.setheader(message, 'Subject', 'Nightly report');

    // 3. Send it: with atleastone, the accepted recipient gets it and the refused one is reported.
    const refused = await smtp.sendmessage(message, {
      servers: [server.host],
      ports: [server.port],
      atleastone: true,
    });
    mime.finalize(message, { subordinates: 'all' });

    // 4. What happened.
    for (const [address, code, diagnostic] of refused) log(`refused: ${address} ${code} ${diagnostic}`);
    for (const path of stored) log(`stored: ${path}`);
    return { refused, stored };
  } finally {
    await server.close();
  }
}

if (require.main === module) {
  quickstart().then(
    () => {
      process.exitCode = 0;
    },
    (error: Error) => {
      console.error(`quickstart failed: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
