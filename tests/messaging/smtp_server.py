"""An SMTP server for tests and benchmarks: aiosmtpd on 127.0.0.1, with an HTTP control port.

    python smtp_server.py PORT_FILE [--hold N] [--data-code CODE [--data-count K]]
                          [--refuse RCPT ...] [--tls CERT KEY --auth USER:PASSWORD] [--count-only]

It binds free ports, writes ``{"smtp": PORT, "http": PORT}`` to PORT_FILE (atomically) and
serves until killed:

* every message (its DATA) is recorded: the name the client gave in EHLO or HELO,
  envelope, parsed headers and text body (with
  ``--count-only``, only counted) and answered 250, except that
  ``--data-code CODE`` answers CODE instead (for the first K messages with ``--data-count K``);
* ``--hold N``: the N-th message (1-based) is recorded, then its answer waits until
  ``POST /_release`` (so a test can kill the sender while it waits);
* ``--refuse ADDRESS``: RCPT TO that address is answered 550 (a bounce);
* ``--tls CERT KEY --auth USER:PASSWORD``: STARTTLS and AUTH (over TLS) are required;
* ``GET /_log`` returns the recorded messages as a JSON array, ``GET /_count`` their number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port_file")
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--data-code", type=int, default=0)
    parser.add_argument("--data-count", type=int, default=0)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth")
    parser.add_argument("--count-only", action="store_true")
    args = parser.parse_args()
    lock = threading.Lock()
    released = threading.Event()
    received: list[dict] = []
    counted = [0]

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in args.refuse:
                return "550 5.1.1 <%s>: no such mailbox" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            refused = args.data_code and (not args.data_count
                                          or counted[0] < args.data_count)
            with lock:
                counted[0] += 1
                number = counted[0]
                if not args.count_only:
                    mail = message_from_bytes(envelope.content, policy=policy.default)
                    body, html = mail.get_body(("plain",)), mail.get_body(("html",))
                    received.append({
                        "ehlo": session.host_name, "mail_from": envelope.mail_from,
                        "rcpt_tos": list(envelope.rcpt_tos),
                        "headers": {k.lower(): str(v) for k, v in mail.items()},
                        "text": body.get_content() if body is not None else None,
                        "html": html.get_content() if html is not None else None,
                        "answer": args.data_code if refused else 250})
            if number == args.hold:
                await asyncio.get_running_loop().run_in_executor(None, released.wait)
            if refused:
                text = "try again later" if args.data_code < 500 else "message refused"
                return f"{args.data_code} {text}"
            return "250 2.0.0 accepted"

    options = {}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False)

        options = dict(tls_context=context, require_starttls=True, auth_required=True,
                       authenticator=authenticator, auth_require_tls=True)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(Handler(), hostname="test.smtp.local", **options), "127.0.0.1", 0))

    class Control(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with lock:
                document = {"/_log": received, "/_count": counted[0]}.get(self.path)
                body = json.dumps(document).encode()
            self._answer(200 if document is not None else 404, body)

        def do_POST(self) -> None:
            if self.path == "/_release":
                released.set()
            self._answer(200)

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as handle:
        json.dump({"smtp": server.sockets[0].getsockname()[1],
                   "http": control.server_address[1]}, handle)
    os.replace(temporary, args.port_file)
    loop.run_forever()


if __name__ == "__main__":
    main()
