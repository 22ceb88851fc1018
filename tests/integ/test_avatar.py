"""Avatars uploaded from a mini-program (POST /v1/avatar, GET /v1/avatars/{id};
issue 25): the chosen image's bytes as base64 JSON, a whole PNG, JPEG or WebP
of at most 256 KiB, kept in PostgreSQL, served at a stable URL anyone may
cache, named by the user's avatar_url; a deletion erases it. Every refusal
stores nothing."""

import base64
import struct
import zlib

from lib import expect_error, expect_token_error

LIMIT = 256 * 1024


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def png(size=None):
    """A valid 1x1 PNG, padded with a private chunk to exactly size bytes."""
    head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
    idat = _chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff"))
    end = _chunk(b"IEND", b"")
    body = head + idat
    if size is not None:
        pad = size - len(body) - len(end) - 12
        assert pad >= 0
        body += _chunk(b"prVt", b"\x00" * pad)
    return body + end


JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46,
              0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
              0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0xff, 0xd9])


def _upload(env, token, image_bytes=None, body=None):
    if body is None:
        body = {"image": base64.b64encode(image_bytes).decode()}
    return env.req("POST", "/v1/avatar", body, token=token)


def _get(env, url):
    path = url[len(env.conf_value("public_url", "")):]
    assert path.startswith("/v1/avatars/"), url
    return env.req("GET", path)


def _rows(env, user_id):
    return int(env.sql("SELECT count(*) FROM avatars WHERE user_id = %s", user_id)[0][0])


def test_an_avatar_is_kept_served_and_replaced(env):
    j = env.signed_in("mp1")
    img = png()
    r = _upload(env, j["access_token"], img)
    assert r.status == 200, r.describe()
    url = r.json["user"]["avatar_url"]
    assert url.startswith(env.conf_value("public_url", "") + "/v1/avatars/"), url
    assert env.req("GET", "/v1/userinfo", token=j["access_token"]).json["user"]["avatar_url"] == url
    # Served through nginx without a token, byte for byte, for ever cacheable.
    g = _get(env, url)
    assert g.status == 200 and g.body == img, g.describe()
    assert g.headers["Content-Type"] == "image/png"
    assert g.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert g.headers["X-Content-Type-Options"] == "nosniff"
    # The largest allowed, then a JPEG: a new URL each time, the old gone.
    r = _upload(env, j["access_token"], png(LIMIT))
    assert r.status == 200, r.describe()
    big = r.json["user"]["avatar_url"]
    assert big != url and _get(env, big).body == png(LIMIT)
    r = _upload(env, j["access_token"], JPEG)
    assert r.status == 200, r.describe()
    last = r.json["user"]["avatar_url"]
    g = _get(env, last)
    assert g.status == 200 and g.headers["Content-Type"] == "image/jpeg" and g.body == JPEG
    expect_error(_get(env, url), 404, "not_found")
    expect_error(_get(env, big), 404, "not_found")
    assert _rows(env, j["user"]["id"]) == 1


def test_refusals_store_nothing(env):
    j = env.signed_in("mp1")
    t = j["access_token"]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    before = env.snapshot()
    expect_error(_upload(env, t, b"\x89PNG\r\n\x1a\n" + b"garbage" * 20), 415,
                 "unsupported_media_type")
    # One byte over the limit.
    expect_error(_upload(env, t, b"\x89PNG\r\n\x1a\n" + b"\x00" * (LIMIT - 7)), 413,
                 "body_too_large")
    expect_error(_upload(env, t, svg), 415, "unsupported_media_type")
    expect_error(_upload(env, t, png()[:-1]), 415, "unsupported_media_type")
    expect_error(_upload(env, t, body={"image": ""}), 400, "invalid_request")
    expect_error(_upload(env, t, body={}), 400, "invalid_request")
    expect_error(env.req("POST", "/v1/avatar", None, token=t), 400, "invalid_json")
    expect_error(_upload(env, t, body={"image": "iVBORw0KGgo!!!"}), 400, "invalid_request")
    expect_error(_upload(env, t, body={"image": base64.b64encode(png()).decode().rstrip("=")}),
                 400, "invalid_request")
    expect_token_error(_upload(env, None, png()), ("invalid_token",))
    expect_token_error(_upload(env, "v4.local.nonsense", png()), ("invalid_token",))
    # Above what nginx takes for the route: its 413, as JSON.
    r = _upload(env, t, body={"image": "A" * (400 * 1024)})
    assert r.status == 413, r.describe()
    assert env.snapshot() == before, "a refused upload changed what is stored"
    expect_error(env.req("GET", "/v1/avatars/00000000-0000-4000-8000-000000000000"), 404,
                 "not_found")
    expect_error(env.req("GET", "/v1/avatars/not-a-uuid"), 404, "not_found")


def test_a_deletion_erases_the_avatar(env):
    j = env.signed_in("mp1")
    r = _upload(env, j["access_token"], png())
    assert r.status == 200, r.describe()
    url = r.json["user"]["avatar_url"]
    d = env.req("POST", "/v1/admin/users/%s/delete" % j["user"]["id"], {}, token=env.admin_key)
    assert d.status == 200, d.describe()
    assert _rows(env, j["user"]["id"]) == 0
    expect_error(_get(env, url), 404, "not_found")
