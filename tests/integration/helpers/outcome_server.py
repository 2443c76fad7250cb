# A server that makes client outcomes ambiguous on purpose, for the
# client_outcomes test. usage: outcome_server.py HTTP_PORT TCP_PORT
#
# HTTP_PORT (one connection at a time, kept alive):
#   GET /hello          200 "hello"
#   PUT /apply-and-die  prints "applied <body>", then closes the connection
#                       without answering and stops listening: a reconnect
#                       is refused.
# TCP_PORT (a thread per connection), by the first line the client sends:
#   "reset"  the connection is reset (RST), nothing read after the line
#   "hold"   nothing is ever read again (the client's sends pile up)
import socket, struct, sys, threading


def listener(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    return ls


def http_server(ls):
    while True:
        conn, _ = ls.accept()
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
            if b"\r\n\r\n" not in buf:
                conn.close()
                break
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            method, path = lines[0].split()[:2]
            length = 0
            for h in lines[1:]:
                name, _, value = h.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(65536)
            body, buf = buf[:length], buf[length:]
            if path == "/apply-and-die":
                print("applied", body.decode(), flush=True)
                ls.close()  # no other thread accepts: the port now refuses
                conn.close()
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


def tcp_conn(conn):
    line = b""
    while not line.endswith(b"\n"):
        data = conn.recv(1)
        if not data:
            return
        line += data
    if line.strip() == b"reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    else:
        threading.Event().wait()  # "hold": never read again


def tcp_server(ls):
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=tcp_conn, args=(conn,), daemon=True).start()


# Both sockets listen before "listening" is printed (the readiness probe
# waits for it): a request right after ready must find them.
http_ls, tcp_ls = listener(int(sys.argv[1])), listener(int(sys.argv[2]))
threading.Thread(target=tcp_server, args=(tcp_ls,), daemon=True).start()
print("listening", flush=True)
http_server(http_ls)
threading.Event().wait()
