#!/usr/bin/env python3
"""Real HTTP traffic through a faultline proxy with HTTP fault rules, for
integration/http_faults (the rules are in scenarios/http-faults.lua).
Prints "ok: ...", "FAIL: ..." and "figure: ..." lines; exits 1 on a failure.
usage: http_client.py PROXY_ADDR UPSTREAM_ADDR BIG_BYTES"""
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

PROXY, UPSTREAM, BIG = sys.argv[1], sys.argv[2], int(sys.argv[3])
PHOST, PPORT = PROXY.rsplit(":", 1)
failures = 0


def check(cond, what):
    global failures
    if cond:
        print("ok: " + what)
    else:
        failures += 1
        print("FAIL: " + what)


def seen():
    c = http.client.HTTPConnection(*UPSTREAM.rsplit(":", 1), timeout=10)
    c.request("GET", "/seen")
    return json.loads(c.getresponse().read())


def conn():
    return http.client.HTTPConnection(PHOST, int(PPORT), timeout=20)


def keep_alive():
    """Faulted and clean requests on one connection: the clean ones reach
    the upstream on that one connection, the faulted ones never do."""
    c = conn()
    got = []
    socks = set()
    for method, path in [("GET", "/ka/1"), ("POST", "/reserve/1"), ("GET", "/ka/2"),
                         ("POST", "/reserve/2"), ("GET", "/ka/3")]:
        c.request(method, path, body=b"x" * 10 if method == "POST" else None)
        r = c.getresponse()
        got.append((r.status, r.read()))
        socks.add(id(c.sock))
    c.close()
    check([s for s, _ in got] == [200, 503, 200, 503, 200],
          "keep-alive: statuses %s" % [s for s, _ in got])
    check(len(socks) == 1, "keep-alive: one connection for all five")
    s = seen()
    check("GET /ka/3" in s and not any("/reserve/" in x for x in s),
          "keep-alive: clean requests reached the upstream, aborted ones did not")


def read_responses(sock, n):
    """n responses off a raw socket (Content-Length bodies)."""
    f = sock.makefile("rb")
    out = []
    for _ in range(n):
        status = int(f.readline().split()[1])
        length = 0
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            k, v = line.decode().split(":", 1)
            if k.lower() == "content-length":
                length = int(v)
        out.append((status, f.read(length)))
    return out


def pipelining():
    s = socket.create_connection((PHOST, int(PPORT)), timeout=10)
    s.sendall(b"GET /pipe/1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /reserve/p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
              b"GET /pipe/2 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = read_responses(s, 3)
    s.close()
    check([g[0] for g in got] == [200, 503, 200] and got[0][1] == b"ok /pipe/1\n"
          and got[2][1] == b"ok /pipe/2\n",
          "pipelining: three answers in order, the middle one the proxy's: %s" % got)


def chunked_upload():
    data = os.urandom(3 * 1024 * 1024 + 17)
    c = conn()
    c.request("POST", "/echo", body=(data[i:i + 65536] for i in range(0, len(data), 65536)),
              encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    check(out["n"] == len(data) and out["sha256"] == hashlib.sha256(data).hexdigest(),
          "chunked upload: %d bytes arrived intact" % len(data))


def expect_continue():
    data = os.urandom(2 * 1024 * 1024)
    path = "/tmp/fl-http-%d.bin" % os.getpid()
    with open(path, "wb") as f:
        f.write(data)
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-H", "Expect: 100-continue",
                        "--data-binary", "@" + path, "http://%s/echo" % PROXY,
                        "-w", "\n%{http_code}"], capture_output=True, text=True)
    os.unlink(path)
    body, _, code = r.stdout.rpartition("\n")
    ok = code == "200" and json.loads(body)["sha256"] == hashlib.sha256(data).hexdigest()
    check(ok, "Expect: 100-continue upload with curl (%s)" % code)
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-H", "Expect: 100-continue",
                        "--data-binary", "abc", "http://%s/reserve/e" % PROXY,
                        "-w", "%{http_code}", "-o", "/dev/null"], capture_output=True,
                       text=True)
    check(r.stdout == "503", "Expect: 100-continue to an aborted route: 503 (%s)" % r.stdout)


def http10():
    s = socket.create_connection((PHOST, int(PPORT)), timeout=10)
    s.sendall(b"GET /old HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    check(data.startswith(b"HTTP/1.") and data.endswith(b"ok /old\n"),
          "HTTP/1.0: answered and closed")
    s = socket.create_connection((PHOST, int(PPORT)), timeout=10)
    s.sendall(b"POST /reserve/old HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
    data = s.makefile("rb").read()
    s.close()
    check(data.startswith(b"HTTP/1.1 503") and b"Connection: close" in data,
          "HTTP/1.0 abort: 503 with Connection: close, then the close")


def head_request():
    c = conn()
    c.request("HEAD", "/h")
    r = c.getresponse()
    r.read()
    c.request("GET", "/after-head")
    r2 = c.getresponse()
    check(r.status == 200 and r2.read() == b"ok /after-head\n",
          "HEAD: bodyless response, the next request on the connection fine")
    c.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def big_download():
    pid = os.getppid()  # faultline runs this (fl.exec)
    before = rss_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)
    t = threading.Thread(target=sample)
    t.start()
    block = bytes(range(256)) * 4096
    want = hashlib.sha256()
    n = BIG
    while n > 0:
        want.update(block[:min(n, len(block))])
        n -= len(block)
    start = time.monotonic()
    c = conn()
    c.request("GET", "/big?n=%d" % BIG)
    r = c.getresponse()
    first = time.monotonic() - start
    h = hashlib.sha256()
    total = 0
    while True:
        d = r.read(1 << 20)
        if not d:
            break
        h.update(d)
        total += len(d)
    took = time.monotonic() - start
    c.close()
    done.set()
    t.join()
    check(total == BIG and h.hexdigest() == want.hexdigest(),
          "download of %d bytes with a delay rule: sha256 intact" % BIG)
    check(first >= 0.29, "download: the response head came %.3f s late (rule: 300 ms)" % first)
    grew = peak[0] - before
    print("figure: download %d MB in %.2f s; faultline RSS %d KiB before, peak %d KiB (+%d KiB)"
          % (BIG >> 20, took, before, peak[0], grew))
    check(grew < 16 * 1024, "download: faultline's memory stays flat (+%d KiB < 16 MiB)" % grew)


def upgrade():
    s = socket.create_connection((PHOST, int(PPORT)), timeout=10)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
    f = s.makefile("rb")
    status = f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass
    # HTTP-looking bytes after the switch are not HTTP: never aborted.
    payload = b"POST /reserve/ws HTTP/1.1\r\nContent-Length: 0\r\n\r\n\x00\xff" * 50
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += f.read1(65536)
    s.close()
    check(b" 101 " in status and got == payload, "Upgrade: 101, then bytes echoed untouched")


def get_status(path):
    try:
        c = conn()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except (ConnectionError, http.client.HTTPException, OSError):
        return "reset"


def first_n():
    got = [get_status("/first/%d" % i) for i in range(5)]
    s = seen()
    check(got == ["reset"] * 3 + [200, 200], "first=3: the first three reset, then fine: %s" % got)
    check(all(("GET /first/%d" % i) in s for i in range(5)),
          "first=3 with reset after: the upstream saw all five (a retry would duplicate)")


def percent():
    c = conn()
    n500 = 0
    for i in range(500):
        c.request("GET", "/pct/%d" % i)
        r = c.getresponse()
        r.read()
        n500 += r.status == 500
    c.close()
    print("figure: percent=20 over 500 requests: %d faulted" % n500)
    check(65 <= n500 <= 135, "percent=20: %d of 500 faulted, within 65..135 (+/- 4 sd)" % n500)


def reset_before_after():
    a = get_status("/rb/1")
    b = get_status("/ra/1")
    s = seen()
    check(a == "reset" and "GET /rb/1" not in s, "reset before: the upstream never saw it")
    check(b == "reset" and "GET /ra/1" in s, "reset after: the upstream saw it, the client a reset")


for test in [keep_alive, pipelining, chunked_upload, expect_continue, http10, head_request,
             big_download, upgrade, first_n, percent, reset_before_after]:
    t0 = time.monotonic()
    try:
        test()
        print("time: %s %.2f s" % (test.__name__, time.monotonic() - t0))
    except Exception as e:  # a test that raised failed
        failures += 1
        print("FAIL: %s raised %r" % (test.__name__, e))
sys.exit(1 if failures else 0)
