"""A small FastCGI client, to speak to the workers' sockets as a web server
does: nginx and mod_proxy_fcgi (the Responder role), mod_authnz_fcgi and
mod_fcgid (the Authorizer role, which sends no input stream at all)."""

import socket
import struct

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER, AUTHORIZER = 1, 2


def record(kind, content, rid=1):
    return struct.pack(">BBHHBx", 1, kind, rid, len(content), 0) + content


def pair(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


def request(params, body=b"", end_stdin=True, role=RESPONDER):
    """BEGIN_REQUEST (no keep-alive), PARAMS, then STDIN as nginx sends it;
    role AUTHORIZER sends no STDIN record, as mod_authnz_fcgi does."""
    p = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())
    out = record(BEGIN, struct.pack(">HB5x", role, 0)) + record(PARAMS, p) + record(PARAMS, b"")
    if role == AUTHORIZER:
        return out
    if body:
        out += record(STDIN, body)
    if end_stdin:
        out += record(STDIN, b"")
    return out


def params(method, path, length=None, **headers):
    """The parameters of a request for method and path; headers as
    HTTP_NAME=value keyword arguments."""
    p = {"REQUEST_METHOD": method, "REQUEST_URI": path, "SCRIPT_NAME": path,
         "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
         "HTTP_HOST": "localhost"}
    if length is not None:
        p["CONTENT_LENGTH"] = str(length)
        p["CONTENT_TYPE"] = "application/json"
    p.update(headers)
    return p


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def answer(s):
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


def split(out):
    """(status, [(name, value)...], body) of a CGI-style answer."""
    head, _, body = out.partition(b"\r\n\r\n")
    status, hdrs = 200, []
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            hdrs.append((name, value.strip()))
    return status, hdrs, body


def status(out):
    return split(out)[0]


def exchange(path, prm, role=RESPONDER, body=b""):
    """One request over a fresh connection to the socket at path; the answer
    split as split() does."""
    s = connect(path)
    try:
        s.sendall(request(prm, body, role=role))
        return split(answer(s))
    finally:
        s.close()
