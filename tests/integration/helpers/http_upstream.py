#!/usr/bin/env python3
"""An HTTP/1.1 upstream for integration/http_faults: keep-alive, chunked and
Content-Length uploads (answered with their length and sha256), 100-continue
(http.server's own), a streamed download of any size (/big?n=BYTES, a fixed
pattern), an Upgrade that switches to a raw echo (/ws), and /seen: every
request target it received, in order, so a test can tell whether a request
reached it. usage: http_upstream.py PORT"""
import hashlib
import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

BLOCK = bytes(range(256)) * 4096  # 1 MiB of a fixed pattern
seen = []
lock = threading.Lock()


def read_body(h):
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(out)
            out.append(h.rfile.read(size))
            h.rfile.readline()
    return h.rfile.read(int(h.headers.get("Content-Length", 0)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small writes go at once, as from real servers

    def log_message(self, *args):
        pass

    def reply(self, body, status=200, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def note(self):
        with lock:
            seen.append(self.command + " " + self.path)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/seen":
            with lock:
                return self.reply(json.dumps(seen).encode(), ctype="application/json")
        self.note()
        if url.path == "/big":
            n = int(parse_qs(url.query)["n"][0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                k = min(n, len(BLOCK))
                self.wfile.write(BLOCK[:k])
                n -= k
            return
        if url.path == "/ws" and self.headers.get("Upgrade"):
            self.send_response(101)
            self.send_header("Upgrade", self.headers["Upgrade"])
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            while True:  # raw echo: no HTTP from here on
                data = self.connection.recv(65536)
                if not data:
                    break
                self.connection.sendall(data)
            self.close_connection = True
            return
        self.reply(("ok %s\n" % self.path).encode())

    def do_HEAD(self):
        self.note()
        self.send_response(200)
        self.send_header("Content-Length", "1234")
        self.end_headers()

    def do_POST(self):
        self.note()
        body = read_body(self)
        out = {"n": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        self.reply(json.dumps(out).encode(), ctype="application/json")


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def watch_parent():
    """Exit when whoever started us is gone (a test shell killed by its
    trap), so that no upstream outlives its test."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    threading.Thread(target=watch_parent, daemon=True).start()
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
