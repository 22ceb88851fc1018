"""How a worker ends a FastCGI connection (app/server/worker.c, finish).

Spoken straight to the main pool's Unix socket, as nginx does, with a small
FastCGI client. A request read to its end is answered and the connection
closed by the worker at once: it does not wait for the client to close
first (libfcgi's way, which held the worker up to 2 s for a client that was
slow to close). A request whose declared body the worker did not read is
still answered whole, and the worker keeps taking what the client sends
instead of closing on it.
"""

import select
import socket
import struct
import time

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def _record(kind, content, rid=1):
    return struct.pack(">BBHHBx", 1, kind, rid, len(content), 0) + content


def _pair(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


def _request(params, body=b"", end_stdin=True):
    """BEGIN_REQUEST (responder, no keep-alive), PARAMS, STDIN as nginx sends them."""
    p = b"".join(_pair(k.encode(), v.encode()) for k, v in params.items())
    out = _record(BEGIN, struct.pack(">HB5x", 1, 0)) + _record(PARAMS, p) + _record(PARAMS, b"")
    if body:
        out += _record(STDIN, body)
    if end_stdin:
        out += _record(STDIN, b"")
    return out


def _params(env, method, path, length=None):
    p = {"REQUEST_METHOD": method, "REQUEST_URI": path, "SCRIPT_NAME": path,
         "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
         "HTTP_HOST": "localhost"}
    if length is not None:
        p["CONTENT_LENGTH"] = str(length)
        p["CONTENT_TYPE"] = "application/json"
    return p


def _connect(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(env.fcgi_socket)
    return s


def _answer(s):
    """Reads records up to END_REQUEST; returns the STDOUT bytes."""
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, kind, _, n, pad = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + n + pad:
                break
            content, buf = buf[8:8 + n], buf[8 + n + pad:]
            if kind == STDOUT:
                out += content
            elif kind == END:
                return out
        chunk = s.recv(65536)
        assert chunk, "the connection ended before END_REQUEST: %r" % out[:200]
        buf += chunk


def _status(out):
    head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n"):
        if line.lower().startswith("status:"):
            return int(line.split()[1])
    return 200


def _closed_by_worker(s, within):
    """True once the worker has closed its end (POLLHUP on ours) within `within` s."""
    p = select.poll()
    p.register(s, select.POLLHUP)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for _, ev in p.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            if ev & select.POLLHUP:
                return True
    return False


def test_a_request_read_to_its_end_is_closed_by_the_worker_at_once(env):
    for method, path in (("GET", "/healthz"), ("GET", "/v1/session")):
        s = _connect(env)
        try:
            s.sendall(_request(_params(env, method, path)))
            out = _answer(s)
            assert _status(out) in (200, 401), out[:300]
            # Our end stays open: the worker must not wait for it.
            assert _closed_by_worker(s, 1.0), \
                "%s %s: the worker kept the connection open after answering, " \
                "waiting for the client to close" % (method, path)
        finally:
            s.close()


def test_a_request_with_a_body_read_in_full_is_closed_at_once(env):
    body = b'{"code":"x"}'
    s = _connect(env)
    try:
        s.sendall(_request(_params(env, "POST", "/v1/token/refresh", len(body)), body))
        out = _answer(s)
        assert _status(out) == 400, out[:300]
        assert _closed_by_worker(s, 1.0), "the worker waited for the client to close"
    finally:
        s.close()


def test_a_body_left_unread_is_answered_whole_and_not_cut_off(env):
    before = env.snapshot()
    limit = int(env.conf_value("max_body", "65536"))
    length = limit + 1
    s = _connect(env)
    try:
        # Declared too large: refused before a byte of it is read. Part of
        # the body follows the refusal, as a client streaming it would send.
        s.sendall(_request(_params(env, "POST", "/v1/login", length),
                           b"{" + b" " * 1000, end_stdin=False))
        out = _answer(s)
        assert _status(out) == 413, out[:300]
        assert b"body_too_large" in out, out[:300]
        sent = 0
        for _ in range(20):
            s.sendall(_record(STDIN, b" " * 1000))   # no EPIPE: still taken
            sent += 1000
        assert not _closed_by_worker(s, 0.2), \
            "the worker closed while the client was still sending its body"
    finally:
        s.close()
    assert env.snapshot() == before, "a refused request changed what is stored"
