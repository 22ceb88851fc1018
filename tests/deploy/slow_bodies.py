#!/usr/bin/python3
"""Slow bodies through a front server must not slow the token check (issue 8).

    /usr/bin/python3 tests/deploy/slow_bodies.py ENV_JSON BASE_URL

Logs a person in through BASE_URL, opens 8 connections that send a POST
/v1/login body at one byte a second (more than the main pool has workers),
and meanwhile checks the token through BASE_URL for 6 s. Prints the token
check's numbers; exits 0 when every check answered 200 with a p99 under
500 ms, else 1. Loopback only, bounded in time.
"""

import http.client
import json
import os
import socket
import sys
import threading
import time
import urllib.parse


def main():
    env = json.load(open(sys.argv[1], encoding="utf-8"))
    base = urllib.parse.urlsplit(sys.argv[2])
    host, port = base.hostname, base.port
    appid = env["apps"][0]["appid"]

    def req(method, path, body=None, headers=None):
        c = http.client.HTTPConnection(host, port, timeout=15)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    st, body = req("POST", "/v1/login", json.dumps({"appid": appid, "code": "slowb.n%s" % os.urandom(6).hex()}),
                   {"Content-Type": "application/json"})
    if st != 200:
        print("slow_bodies: login failed: %d %s" % (st, body[:200]))
        return 1
    token = json.loads(body)["access_token"]

    stop = threading.Event()

    def slow_client():
        s = socket.create_connection((host, port), timeout=30)
        try:
            s.sendall(b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
            for _ in range(30):
                if stop.is_set():
                    break
                time.sleep(1)
                s.sendall(b" ")
        except OSError:
            pass        # cut off by the server: what mod_reqtimeout is for
        finally:
            s.close()

    slow = [threading.Thread(target=slow_client, daemon=True) for _ in range(8)]
    for t in slow:
        t.start()
    time.sleep(1)
    lat, bad = [], 0
    until = time.monotonic() + 6
    while time.monotonic() < until:
        t0 = time.monotonic()
        try:
            st, _ = req("GET", "/v1/session", headers={"Authorization": "Bearer " + token})
        except OSError:
            st = 0
        lat.append(time.monotonic() - t0)
        bad += st != 200
    stop.set()
    lat.sort()
    n = len(lat)
    p50, p99 = lat[n // 2] * 1e3, lat[min(n - 1, int(n * 0.99))] * 1e3
    print("fault: 8 slow bodies through Apache: /v1/session n=%d ok=%.1f%% p50=%.1fms p99=%.1fms"
          % (n, 100.0 * (n - bad) / n, p50, p99))
    return 0 if bad == 0 and n >= 20 and p99 < 500 else 1


if __name__ == "__main__":
    sys.exit(main())
