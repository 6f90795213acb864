"""A recording aiosmtpd server for tclmail's tests (run with Debian's /usr/bin/python3).

Listens on 127.0.0.1 at a port the kernel picks, optionally with STARTTLS
(required before MAIL) and AUTH PLAIN/LOGIN (required, checked against one
user and password). Standard output carries one line "ready PORT" once the
server answers, then one JSON object per line for every AUTH attempt and every
accepted message. The server stops on SIGTERM, SIGINT or when standard input
closes (the test process went away).
"""

import argparse
import base64
import json
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

emit_lock = threading.Lock()


def emit(record):
    with emit_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def as_text(value):
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


class Recorder:
    async def handle_DATA(self, server, session, envelope):
        emit({
            "type": "message",
            "mail_from": as_text(envelope.mail_from),
            "mail_options": list(envelope.mail_options),
            "rcpt_tos": [as_text(r) for r in envelope.rcpt_tos],
            "rcpt_options": [list(o) for o in envelope.rcpt_options],
            "smtp_utf8": bool(envelope.smtp_utf8),
            "tls": session.ssl is not None,
            "user": as_text(session.auth_data.login) if isinstance(session.auth_data, LoginPassword) else None,
            "data": base64.b64encode(envelope.original_content).decode("ascii"),
        })
        return "250 2.0.0 Message accepted"


class Checker:
    def __init__(self, user, password):
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        login = as_text(auth_data.login) if isinstance(auth_data, LoginPassword) else None
        emit({"type": "auth", "mechanism": mechanism, "login": login, "ok": ok, "tls": session.ssl is not None})
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd itself answers 535 (handled=True would leave the client waiting).
        return AuthResult(success=False, handled=False)


class EphemeralController(Controller):
    """Controller bound to port 0: the real port is read from the socket before the self-test connects."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", help="PEM certificate chain: enables STARTTLS, required before MAIL")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--user", help="enables AUTH PLAIN and LOGIN, required before MAIL")
    parser.add_argument("--password", default="")
    parser.add_argument("--size", type=int, default=10 * 1024 * 1024, help="data size limit in octets")
    parser.add_argument("--hostname", default="aiosmtpd.tclmail.test")
    args = parser.parse_args()

    options = {
        "hostname": "127.0.0.1",
        "port": 0,
        "server_hostname": args.hostname,
        "data_size_limit": args.size,
        "enable_SMTPUTF8": True,
    }
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options["tls_context"] = context
        options["require_starttls"] = True
    if args.user is not None:
        options["authenticator"] = Checker(args.user, args.password)
        options["auth_required"] = True
        # AUTH only after STARTTLS when there is TLS; without a certificate, in clear on loopback.
        options["auth_require_tls"] = bool(args.cert)

    controller = EphemeralController(Recorder(), **options)
    controller.start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin():
        sys.stdin.buffer.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    emit_line = "ready %d" % controller.port
    with emit_lock:
        sys.stdout.write(emit_line + "\n")
        sys.stdout.flush()
    while not done.wait(0.5):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
