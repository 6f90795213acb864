/**
 * The first example of Tcllib's smtp man page, ported line for line:
 *
 * ```tcl
 * proc send_simple_message {recipient email_server subject body} {
 *     package require smtp
 *     package require mime
 *
 *     set token [mime::initialize -canonical text/plain \
 *                                 -string $body]
 *     mime::setheader $token Subject $subject
 *     smtp::sendmessage $token \
 *                       -recipients $recipient -servers $email_server
 *     mime::finalize $token
 * }
 *
 * send_simple_message someone@somewhere.com localhost \
 *     "This is the subject." "This is the message."
 * ```
 *
 * Run it (after `npm run build`) with your own server and addresses:
 * `node dist/examples/send_simple_message.js someone@example.com mail.example.com "Subject" "Body" me@example.com`.
 * The new words are `await` (sending is asynchronous in Node) and the From
 * line: Tcllib invents a From from the login and host names, tclmail asks for a
 * real one (see docs/differences-from-tcllib.md).
 */
import { mime, smtp } from '../index';

export async function send_simple_message(recipient: string, email_server: string, subject: string, body: string, sender: string): Promise<void> {
  const token = mime.initialize('-canonical', 'text/plain',
    '-string', body);
  mime.setheader(token, 'Subject', subject);
  mime.setheader(token, 'From', sender); // Tcllib invents "user@localhost"; tclmail needs a real From
  await smtp.sendmessage(token,
    '-recipients', recipient, '-servers', email_server);
  mime.finalize(token);
}

if (require.main === module) {
  const [recipient = 'someone@somewhere.com', server = 'localhost', subject = 'This is the subject.', body = 'This is the message.', sender = 'me@somewhere.com'] =
    process.argv.slice(2);
  send_simple_message(recipient, server, subject, body, sender).then(
    () => console.log(`sent to ${recipient} through ${server}`),
    (error: Error) => {
      console.error(`not sent: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
