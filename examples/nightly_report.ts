/**
 * A real-world Tcl script ported side by side (README, "Porting a Tcl script"):
 * a nightly job that mails a log file as an attachment through two relays,
 * reports the refused recipients, and exits non-zero when nothing went out.
 *
 * ```tcl
 * package require mime
 * package require smtp
 *
 * proc mail_report {logfile recipients} {
 *     set body [mime::initialize -canonical text/plain \
 *                   -string "Last night's log is attached."]
 *     set log  [mime::initialize -canonical text/plain \
 *                   -param {charset utf-8} \
 *                   -header [list Content-Disposition "attachment; filename=\"[file tail $logfile]\""] \
 *                   -file $logfile]
 *     set msg  [mime::initialize -canonical multipart/mixed -parts [list $body $log]]
 *     mime::setheader $msg Subject "Nightly report for [clock format [clock seconds] -format %Y-%m-%d]"
 *     set refused [smtp::sendmessage $msg \
 *                      -servers {mx1.example.org mx2.example.org} -ports {587 25} \
 *                      -atleastone 1 -maxsecs 60 \
 *                      -header [list From "Nightly job <jobs@example.org>"] \
 *                      -header [list To $recipients]]
 *     mime::finalize $msg -subordinates all
 *     foreach r $refused {
 *         puts stderr "refused: [lindex $r 0] [lindex $r 1] [lindex $r 2]"
 *     }
 * }
 * ```
 */
import { basename } from 'node:path';
import { mime, smtp, SmtpError } from '../index';

export async function mail_report(logfile: string, recipients: string, servers = ['mx1.example.org', 'mx2.example.org'], ports = [587, 25]): Promise<void> {
  const body = mime.initialize('-canonical', 'text/plain',
    '-string', "Last night's log is attached.");
  const log = mime.initialize('-canonical', 'text/plain',
    '-param', ['charset', 'utf-8'],
    '-header', ['Content-Disposition', `attachment; filename="${basename(logfile)}"`],
    '-file', logfile);
  const msg = mime.initialize('-canonical', 'multipart/mixed', '-parts', [body, log]);
  mime.setheader(msg, 'Subject', `Nightly report for ${new Date().toISOString().slice(0, 10)}`);
  try {
    const refused = await smtp.sendmessage(msg,
      '-servers', servers, '-ports', ports,
      '-atleastone', 1, '-maxsecs', 60,
      '-header', ['From', 'Nightly job <jobs@example.org>'],
      '-header', ['To', recipients]);
    for (const [address, code, diagnostic] of refused) {
      console.error(`refused: ${address} ${code} ${diagnostic}`);
    }
  } finally {
    mime.finalize(msg, '-subordinates', 'all');
  }
}

if (require.main === module) {
  const [logfile, recipients] = process.argv.slice(2);
  if (!logfile || !recipients) {
    console.error('usage: node dist/examples/nightly_report.js LOGFILE "a@example.org, b@example.org"');
    process.exit(64);
  }
  mail_report(logfile, recipients).catch((error: unknown) => {
    // Tcllib would have returned normally from some of these; tclmail says what happened.
    if (error instanceof SmtpError) {
      console.error(`not sent (${error.code}): ${error.message}`);
      for (const a of error.attempts) console.error(`  ${a.server}:${a.port} ${a.stage} ${a.code ?? '-'} ${a.diagnostic}`);
    } else console.error(`not sent: ${(error as Error).message}`);
    process.exitCode = 2;
  });
}
