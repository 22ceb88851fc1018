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
import time

from fcgi import STDIN, answer as _answer, params, record as _record, request as _request, \
    status as _status
import fcgi


def _params(env, method, path, length=None):
    return params(method, path, length)


def _connect(env):
    return fcgi.connect(env.fcgi_socket)


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
