"""PASETO v4.public: tokens services elsewhere verify offline (issue 24).

The public keys at GET /v1/keys (no credential, cacheable, never a secret),
v4.public tokens accepted by the gate as v4.local ones are (revocations,
merges, the Authorizer), token_format = public making logins and refreshes
sign, an Ed25519 implementation that is not libsodium (OpenSSL, through
Debian's python3-cryptography) and PHP's sodium verifying them with only the
published key, and GET /v1/revoked, the sessions ended lately by id."""

import base64
import contextlib
import hashlib
import json
import os
import subprocess
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import fcgi
from lib import check_token_answer, expect_token_error, iso, wait_until
from test_pool import _conf_text, _reload, _set, _write_conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _pae(*pieces):
    out = len(pieces).to_bytes(8, "little")
    for p in pieces:
        out += len(p).to_bytes(8, "little") + p
    return out


def verify_v4_public(token, keys):
    """A verifier as another service writes it, from the specification and
    /v1/keys alone: the key named by the footer's kid, Ed25519 over PAE.
    Returns the claims, or raises."""
    assert token.startswith("v4.public."), token[:20]
    body, footer = token[len("v4.public."):].split(".")
    f = _b64d(footer)
    kid = json.loads(f)["kid"]
    pk = {k["kid"]: k["paserk"] for k in keys}[kid]
    assert pk.startswith("k4.public.")
    raw = _b64d(body)
    m, sig = raw[:-64], raw[-64:]
    Ed25519PublicKey.from_public_bytes(_b64d(pk[len("k4.public."):])).verify(
        sig, _pae(b"v4.public.", m, f, b""))
    return json.loads(m)


def _file_keys(env):
    """The public keys of the key file's signing keys, as /v1/keys lists them."""
    out = []
    with open(env.key_file, encoding="ascii") as f:
        for line in f:
            if line.startswith("k4.secret."):
                pk = "k4.public." + _b64e(_b64d(line.strip()[len("k4.secret."):])[32:])
                d = hashlib.blake2b(b"k4.pid." + pk.encode(), digest_size=33).digest()
                out.append({"kid": "k4.pid." + _b64e(d), "paserk": pk})
    return out


def _keys(env):
    r = env.req("GET", "/v1/keys")
    assert r.status == 200, r.describe()
    return r


@contextlib.contextmanager
def public_format(env):
    """token_format = public for the while (a reload), then back."""
    orig = _conf_text(env)
    try:
        _write_conf(env, _set(orig, "token_format", "public"))
        _reload(env)
        yield
    finally:
        _write_conf(env, orig)
        _reload(env)


def _public_token(env, ident, **over):
    """A v4.public token for the identity of a /v1/session answer, signed by
    the key file's signing key (tests/tools/tokmint --public)."""
    data = json.dumps(env.claims(ident, **over), separators=(",", ":"))
    p = subprocess.run([env.tokmint, "--public", env.key_file, data], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_keys_are_published_without_a_credential(env):
    # v4.local: nothing to publish.
    r = _keys(env)
    assert r.json == {"keys": [], "token_format": "local"}, r.json
    with public_format(env):
        r = _keys(env)
        assert r.headers.get("Cache-Control", "").startswith("public, max-age="), r.headers
        keys = r.json["keys"]
        assert keys and all(set(k) == {"kid", "paserk", "signing"} for k in keys), keys
        assert [k["signing"] for k in keys] == [True] + [False] * (len(keys) - 1)
        assert "secret" not in r.text and "k4.local" not in r.text
        # Each kid is the PASERK k4.pid of its key, as any verifier computes it.
        for k in keys:
            d = hashlib.blake2b(b"k4.pid." + k["paserk"].encode(), digest_size=33).digest()
            assert k["kid"] == "k4.pid." + _b64e(d), k
        # The key file's signing keys, and no other.
        with open(env.key_file, encoding="ascii") as f:
            secrets = [l.strip() for l in f if l.startswith("k4.secret.")]
        pubs = [("k4.public." + _b64e(_b64d(s[len("k4.secret."):])[32:])) for s in secrets]
        assert [k["paserk"] for k in keys] == pubs


def test_a_public_token_passes_the_gate_until_its_session_ends(env):
    j = env.signed_in("mp1")
    ident = env.session(j["access_token"]).json
    tok = _public_token(env, ident)
    claims = verify_v4_public(tok, _file_keys(env))
    assert claims["oid"] == ident["account"]["openid"] and claims["sid"] == ident["session_id"]
    for _ in range(3):                  # the worker's cache of verified tokens too
        r = env.session(tok)
        assert r.status == 200 and r.json["user"]["id"] == ident["user"]["id"], r.describe()
    for sock in (env.fcgi_socket, env.gate_socket):
        st, hdrs, _ = fcgi.exchange(sock, fcgi.params(
            "GET", "/api/orders", HTTP_AUTHORIZATION="Bearer " + tok), role=fcgi.AUTHORIZER)
        assert st == 200 and dict(hdrs)["Variable-WXAUTH_OPENID"] == ident["account"]["openid"]
    # Changed anywhere, expired, or of a key not listed: refused.
    bad = tok[:-3] + ("A" if tok[-3] != "A" else "B") + tok[-2:]
    expect_token_error(env.session(bad), ("invalid_token",))
    mid = tok[:40] + ("A" if tok[40] != "A" else "B") + tok[41:]
    expect_token_error(env.session(mid), ("invalid_token",))
    expect_token_error(env.session(_public_token(env, ident, exp=iso(time.time() - 5))),
                       ("token_expired", "invalid_token"))
    # The session ends: the token it was cached as good for is refused at once.
    assert env.logout(j["access_token"]).status == 200
    wait_until(lambda: env.session(tok).status == 401, timeout=2,
               msg="a v4.public token of an ended session still passes")
    expect_token_error(env.session(tok), ("session_revoked",))


def test_token_format_public_signs_logins_and_refreshes(env):
    orig = _conf_text(env)
    try:
        _write_conf(env, _set(orig, "token_format", "public"))
        _reload(env)
        keys = _keys(env).json
        assert keys["token_format"] == "public" and keys["keys"][0]["signing"] is True
        j = check_token_answer(env.login_ok("mp1", env.person("pub")), fmt="public")
        assert j["access_token"].startswith("v4.public."), j["access_token"][:20]
        claims = verify_v4_public(j["access_token"], keys["keys"])
        assert claims["sub"] == j["user"]["id"] and claims["oid"] == j["account"]["openid"]
        assert env.session(j["access_token"]).status == 200
        n = check_token_answer(env.refresh(j["refresh_token"]), login=False, fmt="public")
        assert n["access_token"].startswith("v4.public.")
        # Forged with another key under our kid: refused by the gate and by
        # the offline verifier alike.
        body, footer = n["access_token"][len("v4.public."):].split(".")
        raw = _b64d(body)
        forged = "v4.public." + _b64e(raw[:-64] + bytes(64)) + "." + footer
        expect_token_error(env.session(forged), ("invalid_token",))
        try:
            verify_v4_public(forged, keys["keys"])
            raise AssertionError("the offline verifier took a forged token")
        except InvalidSignature:
            pass
        old = n["access_token"]
    finally:
        _write_conf(env, orig)
        _reload(env)
    # Back to v4.local: tokens signed meanwhile stay good (the key is in the
    # key file), though no key is published any more.
    assert _keys(env).json == {"keys": [], "token_format": "local"}
    assert env.session(old).status == 200
    assert env.signed_in("mp1")["access_token"].startswith("v4.local.")


def test_php_verifies_with_only_the_published_key(env):
    j = env.signed_in("mp1")
    ident = env.session(j["access_token"]).json
    tok = _public_token(env, ident)
    with public_format(env):
        keys = json.dumps(_keys(env).json)
    php = os.path.join(ROOT, "deploy", "orders", "verify.php")

    def run(token):
        return subprocess.run(["php", php], input=json.dumps({"token": token, "keys": keys,
                                                             "issuer": env.issuer}),
                              capture_output=True, text=True, timeout=30)
    p = run(tok)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert json.loads(p.stdout)["oid"] == ident["account"]["openid"], p.stdout
    bad = tok[:30] + ("A" if tok[30] != "A" else "B") + tok[31:]
    p = run(bad)
    assert p.returncode != 0 and "oid" not in p.stdout, (p.stdout, p.stderr)
    p = run(_public_token(env, ident, exp=iso(time.time() - 5)))
    assert p.returncode != 0, p.stdout


def test_a_third_party_paseto_library_verifies_with_only_the_published_key(env):
    """npm's paseto (panva), installed from tests/interop's lockfile."""
    j = env.signed_in("mp1")
    ident = env.session(j["access_token"]).json
    tok = _public_token(env, ident)
    with public_format(env):
        keys = json.dumps(_keys(env).json)
    js = os.path.join(ROOT, "tests", "interop", "verify.js")

    def run(token, issuer=env.issuer):
        return subprocess.run(["node", js], input=json.dumps(
            {"token": token, "keys": keys, "issuer": issuer}),
            capture_output=True, text=True, timeout=60)
    p = run(tok)
    assert p.returncode == 0, (p.stdout, p.stderr)
    c = json.loads(p.stdout)
    assert (c["sub"], c["oid"], c["sid"]) == \
        (ident["user"]["id"], ident["account"]["openid"], ident["session_id"]), c
    bad = tok[:30] + ("A" if tok[30] != "A" else "B") + tok[31:]
    p = run(bad)
    assert p.returncode == 1 and "oid" not in p.stdout, (p.stdout, p.stderr)
    assert run(tok, issuer="someone-else").returncode == 1
    assert run(_public_token(env, ident, exp=iso(time.time() - 5))).returncode == 1


def test_revoked_sessions_are_listed_by_id_with_a_cursor(env):
    a = env.signed_in("mp1")
    b = env.signed_in("mp1")
    sid_a, sid_b = env.sid_of(a["access_token"]), env.sid_of(b["access_token"])
    before = env.req("GET", "/v1/revoked")
    assert before.status == 200, before.describe()
    assert before.headers.get("Cache-Control") == "no-store"
    assert sid_a not in before.json["revoked"]
    assert set(before.json) == {"revoked", "next"} and before.json["next"].isdigit()
    assert env.logout(a["access_token"]).status == 200
    now = env.req("GET", "/v1/revoked").json
    assert sid_a in now["revoked"] and sid_b not in now["revoked"]
    # Since the cursor: the session ended after it, nothing of the user.
    since = env.req("GET", "/v1/revoked?after=" + before.json["next"]).json
    assert sid_a in since["revoked"] and sid_b not in since["revoked"], since
    assert a["user"]["id"] not in json.dumps(since)
    assert env.logout(b["access_token"]).status == 200
    later = env.req("GET", "/v1/revoked?after=" + since["next"]).json
    assert sid_b in later["revoked"], later
    for q in ("after=abc", "after=-1", "after=99999999999999999999999", "after="):
        r = env.req("GET", "/v1/revoked?" + q)
        assert r.status == 400, (q, r.describe())
