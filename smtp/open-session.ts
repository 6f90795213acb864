/**
 * Readies a session to one server of the walk: connect (implicit TLS with
 * `tlsimport`), EHLO or HELO, STARTTLS as `starttls` and `tlspolicy` decide,
 * AUTH (skipped, as Tcllib does, when the server offers none). A failure is recorded as an attempt; the failover rules (failover.ts)
 * decide whether the walk goes on.
 */
import { type Attempt, SmtpError } from '../lib/errors';
import { attemptOf, diagnosticOf, finalError, movesOn } from './failover';
import { debugSink } from './protocol/debug';
import { connect } from './protocol/session';
import type { Session } from './protocol/types';
import type { Plan, Target, TlsVerdict } from './send-plan';

async function decideTls(plan: Plan, target: Target, error: SmtpError): Promise<TlsVerdict> {
  const policy = plan.session.tlspolicy;
  if (!policy) return 'secure';
  const code = error.replyCode ?? 400;
  try {
    const verdict = await policy(code, diagnosticOf(error), { stage: error.stage as 'starttls' | 'tls', ...target, error });
    return verdict === 'insecure' ? 'insecure' : 'secure';
  } catch {
    return 'secure'; // Tcllib: an error in the policy gives up the server
  }
}

/**
 * Opens a session to one server and readies it for transactions: EHLO (or
 * HELO), STARTTLS as `usetls` and `tlspolicy` decide, AUTH. Resolves to null
 * when this server is given up, with each failure recorded in `attempts`;
 * throws when the table says a failure ends the walk. `maxsecs` is the
 * session's overall deadline (default the plan's: one server, one message).
 */
export async function openSession(plan: Plan, target: Target, attempts: Attempt[], maxsecs: number = plan.message.maxsecs): Promise<Session | null> {
  const settings = plan.session;
  const log = debugSink(settings.debug);
  const deadline = Date.now() + maxsecs * 1000;
  let usetls = settings.starttls !== 'never';

  for (let round = 0; round < 2; round++) {
    log?.(`Trying ${target.server}:${target.port}...`);
    let session: Session | undefined;
    let reconnect = false;
    let ready = false;
    try {
      session = await connect({
        server: target.server,
        port: target.port,
        client: settings.client,
        tls: settings.tlsimport ? settings.tls ?? true : undefined,
        maxsecs: Math.max(0.001, (deadline - Date.now()) / 1000),
        debug: settings.debug,
        insecureauth: settings.insecureauth,
        lookup: settings.lookup,
        protocol: settings.protocol,
        signal: plan.message.signal,
      });
      await session.ehloOrHelo();

      const step = await startTls(plan, target, session, usetls, attempts);
      if (step === 'give up') return null;
      if (step === 'reconnect') {
        // The policy chose plaintext but this channel is gone: open a fresh one and leave STARTTLS alone.
        usetls = false;
        reconnect = true;
        continue;
      }

      if (settings.username !== '' && session.authMechanisms().length === 0) {
        // As Tcllib: a server that offers no AUTH at all gets the message unauthenticated (scripts pass
        // -username/-password whatever the server). One that requires AUTH refuses MAIL or RCPT (530), which is
        // reported as ever. A server that offers AUTH with no usable mechanism is still an error (login()).
        log?.(`${target.server} offers no AUTH: sending without authenticating (username ${JSON.stringify(settings.username)} not used)`);
      } else if (settings.username !== '') {
        await session.login(settings.username, settings.password, settings.oauth2 === undefined ? undefined : { oauth2: settings.oauth2 });
      }
      ready = true;
      return session;
    } catch (error) {
      if (!(error instanceof SmtpError) || plan.message.signal?.aborted) throw error;
      attempts.push(attemptOf(target, error));
      error.server ??= target.server;
      error.port ??= target.port;
      if (!movesOn(error)) throw finalError(error, attempts);
      return null;
    } finally {
      if (!ready) {
        if (session && !reconnect) await session.quit();
        else session?.close();
      }
    }
  }
  return null;
}

/** How STARTTLS went: go on with the session, give the server up, or reconnect without STARTTLS. */
type TlsStep = 'go on' | 'give up' | 'reconnect';

/**
 * STARTTLS when `usetls` and the server offers it. A failure is recorded; with TLS required the
 * server is given up, else the `tlspolicy` decides (no policy: given up). Clear text after a failed
 * handshake needs a fresh connection: the broken channel is never reused.
 */
async function startTls(plan: Plan, target: Target, session: Session, usetls: boolean, attempts: Attempt[]): Promise<TlsStep> {
  // STARTTLS-stripping defence (RFC 8314 §5): with TLS required, a server that does not offer STARTTLS,
  // or fails it, is given up; nothing goes in clear text and no policy can say otherwise.
  const required = plan.session.starttls === 'required';
  if (required && !session.secure && !session.hasExtension('STARTTLS')) {
    throw new SmtpError('ETLS', 'starttls', `TLS is required but ${target.server} does not offer STARTTLS: nothing is sent in clear text`);
  }
  if (!usetls || session.secure || !session.hasExtension('STARTTLS')) return 'go on';
  try {
    await session.starttls(plan.session.tls);
    return 'go on';
  } catch (error) {
    if (!(error instanceof SmtpError) || (error.stage !== 'starttls' && error.stage !== 'tls')) throw error;
    if (required) {
      attempts.push({ ...attemptOf(target, error), diagnostic: `TLS is required and STARTTLS failed, nothing is sent in clear text: ${diagnosticOf(error)}` });
      return 'give up';
    }
    attempts.push(attemptOf(target, error));
    if ((await decideTls(plan, target, error)) !== 'insecure') return 'give up';
    // A refusal (a reply other than 421) leaves the channel usable in clear text; a failed handshake does not.
    const usable = error.code === 'ETLS' && error.stage === 'starttls' && error.replyCode !== null && error.replyCode !== 421;
    return usable ? 'go on' : 'reconnect';
  }
}
