"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every request.

    python receiver.py PORT_FILE [--fail N] [--hold N]

It binds a free port, writes it to PORT_FILE (atomically) and serves until killed:

* ``POST`` to any path is recorded (path, headers, raw body as text) and answered 200,
  except that the first ``--fail N`` requests get 500, and the ``--hold N``-th request
  (1-based) waits for its answer until ``POST /_release``;
* ``GET /_log`` returns the recorded requests as a JSON array (in arrival order);
* ``POST /_release`` lets the held request (and any later one) be answered.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port_file")
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--hold", type=int, default=0)
    args = parser.parse_args()
    lock = threading.Lock()
    released = threading.Event()
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != "/_log":
                self._answer(404)
                return
            with lock:
                body = json.dumps(received).encode()
            self._answer(200, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/_release":
                released.set()
                self._answer(200)
                return
            with lock:
                received.append({"path": self.path, "body": body.decode("utf-8"),
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
                number = len(received)
            if number == args.hold:
                released.wait()
            self._answer(500 if number <= args.fail else 200, b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(temporary, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
