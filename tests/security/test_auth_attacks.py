"""The JWT attack families: each forged, confused or malformed token is a 401, never a 500.

Three real apps on loopback: HS256 with a shared secret, RS256 through a JWKS served by a
real key server, and HS256 with an issuer and an audience configured. Whatever the token,
nothing reaches the platform stand-in.
"""

from __future__ import annotations

import json
import select
import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jwe
from joserfc.jwk import OctKey, RSAKey

from tests._fake import FakePlatform

from .conftest import (
    AUDIENCE,
    ISSUER,
    JWT_SECRET,
    MINTED,
    b64,
    bearer,
    body,
    claims,
    hmac_signer,
    hs_token,
    key_server,
    make_app,
    mounted,
    raw_token,
    rs_token,
    rsa_signer,
)


@pytest.fixture(scope="module")
def hs_url(_served_platform: tuple[FakePlatform, str]) -> Iterator[str]:
    with mounted(make_app(_served_platform[1], rate_limit="")) as url:
        yield url


@pytest.fixture(scope="module")
def keys_and_rs_url(
    _served_platform: tuple[FakePlatform, str], signing_key: RSAKey
) -> Iterator[tuple[Any, str]]:
    with key_server(signing_key) as (server, base):
        app = make_app(_served_platform[1], jwks_url=f"{base}/jwks.json", rate_limit="")
        with mounted(app) as url:
            yield server, url


@pytest.fixture
def rs_url(keys_and_rs_url: tuple[Any, str]) -> str:
    return keys_and_rs_url[1]


@pytest.fixture(scope="module")
def iss_aud_url(_served_platform: tuple[FakePlatform, str]) -> Iterator[str]:
    app = make_app(_served_platform[1], rate_limit="", jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    with mounted(app) as url:
        yield url


def assert_refused(response: httpx2.Response, platform: FakePlatform) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert response.json()["error"] in {"Invalid token", "Missing bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert platform.calls == []


def post(client: httpx2.Client, url: str, token: str) -> httpx2.Response:
    MINTED.add(token)
    return client.post(url, json=body(), headers=bearer(token))


# -- the good paths, so that every refusal below means something ------------------------------


def test_valid_tokens_are_accepted_by_each_setup(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, rs_url: str,
    iss_aud_url: str, signing_key: RSAKey,
) -> None:
    assert post(checked_client, hs_url, hs_token()).status_code == 200
    assert post(checked_client, rs_url, rs_token(signing_key)).status_code == 200
    token = hs_token(iss=ISSUER, aud=AUDIENCE)
    assert post(checked_client, iss_aud_url, token).status_code == 200
    assert len(platform.calls) == 3


# -- alg: none and algorithm confusion ---------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_in_any_case(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, rs_url: str,
    alg: str, signature: str,
) -> None:
    unsigned = f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    for url in (hs_url, rs_url):
        for token in (f"{unsigned}.{signature}", unsigned + "."):
            assert_refused(post(checked_client, url, token), platform)


def _public_forms(key: RSAKey) -> dict[str, bytes]:
    public = key.public_key
    return {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem-pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": json.dumps(key.as_dict(private=False)).encode(),
        "jwk-sorted": json.dumps(key.as_dict(private=False), sort_keys=True,
                                 separators=(",", ":")).encode(),
    }


@pytest.mark.parametrize("form", ["pem", "pem-pkcs1", "der", "jwk", "jwk-sorted"])
def test_hs256_signed_with_the_rs256_public_key(
    checked_client: httpx2.Client, platform: FakePlatform, rs_url: str, signing_key: RSAKey,
    form: str,
) -> None:
    secret = _public_forms(signing_key)[form]
    for header in ({"alg": "HS256", "kid": "k1"}, {"alg": "HS256"}, {"alg": "HS512", "kid": "k1"}):
        token = raw_token(header, claims(), hmac_signer(secret))
        assert_refused(post(checked_client, rs_url, token), platform)


def test_rs256_token_against_the_shared_secret_setup(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, attacker_key: RSAKey
) -> None:
    assert_refused(post(checked_client, hs_url, rs_token(attacker_key)), platform)


def test_foreign_key_reusing_a_known_kid(
    checked_client: httpx2.Client, platform: FakePlatform, keys_and_rs_url: tuple[Any, str],
    attacker_key: RSAKey,
) -> None:
    server, rs_url = keys_and_rs_url
    assert attacker_key.kid == "k1"
    post(checked_client, rs_url, "x.y.z")  # make sure the keys are cached
    hits = len(server.hits)
    for alg in ("RS256", "PS256"):
        token = rs_token(attacker_key, {"alg": alg, "kid": "k1"})
        assert_refused(post(checked_client, rs_url, token), platform)
    # A known kid with a bad signature is just a bad token: no refetch of the keys.
    assert len(server.hits) == hits


def test_hs256_with_a_different_secret(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str
) -> None:
    other = "a-different-secret-of-32-bytes-or-more!!"
    assert_refused(post(checked_client, hs_url, hs_token(other)), platform)


# -- keys offered by the token itself -----------------------------------------------------------


def test_embedded_jwk_jku_and_x5u_are_never_used_or_fetched(
    checked_client: httpx2.Client, platform: FakePlatform, rs_url: str, hs_url: str,
    attacker_key: RSAKey,
) -> None:
    from tests._servers import serve

    from .conftest import KeyServer

    recorder = KeyServer(attacker_key)  # would happily serve the attacker's key
    with serve(recorder.app()) as evil:
        public = attacker_key.as_dict(private=False)
        headers: list[dict[str, Any]] = [
            {"alg": "RS256", "jwk": public},
            {"alg": "RS256", "kid": "evil", "jwk": public},
            {"alg": "RS256", "kid": "evil", "jku": f"{evil}/jwks.json"},
            {"alg": "RS256", "kid": "k1", "jku": f"{evil}/jwks.json"},
            {"alg": "RS256", "kid": "evil", "x5u": f"{evil}/cert.pem"},
            {"alg": "RS256", "x5u": f"{evil}/cert.pem", "jku": f"{evil}/jwks.json"},
        ]
        for header in headers:
            token = raw_token(header, claims(), rsa_signer(attacker_key))
            for url in (rs_url, hs_url):
                assert_refused(post(checked_client, url, token), platform)
        assert recorder.hits == []


# -- kid values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/null",
        "' OR '1'='1' --",
        "k1'; DROP TABLE keys; --",
        "k1\x00",
        "\x00",
        "k" * 4000,
        "",
        123,
        None,
        ["k1"],
        {"kid": "k1"},
        True,
    ],
    ids=lambda v: repr(v)[:20],
)
def test_weird_kid_values(
    checked_client: httpx2.Client, platform: FakePlatform, rs_url: str, hs_url: str,
    attacker_key: RSAKey, kid: Any,
) -> None:
    token = raw_token({"alg": "RS256", "kid": kid}, claims(), rsa_signer(attacker_key))
    assert_refused(post(checked_client, rs_url, token), platform)
    token = raw_token({"alg": "HS256", "kid": kid}, claims(), hmac_signer(JWT_SECRET.encode()))
    if isinstance(kid, str) and len(kid) < 1000:
        # With a shared secret the kid plays no part: a correct signature still counts.
        assert post(checked_client, hs_url, token).status_code == 200
        assert len(platform.calls) == 1
    else:
        # A kid that is not a string (null included) is a malformed header; a 4,000-character
        # one makes the token longer than any real one: both refused like any bad token.
        assert_refused(post(checked_client, hs_url, token), platform)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "crit": ["x-unknown"], "x-unknown": 1},
        {"alg": "HS256", "crit": ["exp"]},
        {"alg": "HS256", "crit": ["b64"], "b64": False},
        {"alg": "HS256", "crit": []},
        {"alg": "HS256", "crit": "x-unknown"},
    ],
)
def test_unknown_or_malformed_crit(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, header: dict[str, Any]
) -> None:
    token = raw_token(header, claims(), hmac_signer(JWT_SECRET.encode()))
    assert_refused(post(checked_client, hs_url, token), platform)


# -- broken signatures and segments -------------------------------------------------------------


def _mangled(token: str) -> dict[str, str]:
    head, payload, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    forged_payload = b64(json.dumps(claims(sub="rec_admin")).encode())
    return {
        "tampered signature": f"{head}.{payload}.{flipped}",
        "truncated signature": f"{head}.{payload}.{sig[:-4]}",
        "stripped signature": f"{head}.{payload}.",
        "no signature segment": f"{head}.{payload}",
        "padded signature": f"{head}.{payload}.{sig}==",
        "signature with whitespace": f"{head}.{payload}.{sig[:10]} {sig[10:]}",
        "tampered payload": f"{head}.{forged_payload}.{sig}",
        "four segments": f"{head}.{payload}.{sig}.{sig}",
        "two dots at the end": f"{head}.{payload}.{sig}.",
        "one segment": head,
        "empty segments": "..",
        "leading dot": f".{head}.{payload}.{sig}",
        "standard base64": f"{head}.{payload}.{sig.replace('-', '+').replace('_', '/')}+/",
        "JSON serialisation": json.dumps({"payload": payload, "protected": head, "signature": sig}),
        "non-ascii": f"{head}.{payload}.{sig}é",
    }


@pytest.mark.parametrize("case", list(_mangled("a.b.c")))
def test_tampered_stripped_padded_and_missegmented_signatures(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, rs_url: str,
    signing_key: RSAKey, case: str,
) -> None:
    for url, token in ((hs_url, hs_token()), (rs_url, rs_token(signing_key))):
        mangled = _mangled(token)[case]
        response = checked_client.post(
            url, json=body(), headers={"Authorization": f"Bearer {mangled}".encode()}
        )
        MINTED.add(mangled)
        assert_refused(response, platform)


@pytest.mark.parametrize(
    "header",
    [b'"HS256"', b'["HS256"]', b"1", b"null", b"true", b'{"alg":"HS256"', b"\xff\xfe", b"",
     b'{"alg":"HS256","alg":"none"}', b'{"alg":["HS256"]}', b'{"alg":null}'],
    ids=repr,
)
def test_header_that_is_not_a_json_object(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, header: bytes
) -> None:
    payload = b64(json.dumps(claims()).encode())
    signing_input = f"{b64(header)}.{payload}".encode()
    token = f"{signing_input.decode()}.{b64(hmac_signer(JWT_SECRET.encode())(signing_input))}"
    assert_refused(post(checked_client, hs_url, token), platform)


@pytest.mark.parametrize(
    "payload",
    [b'"claims"', b"[1, 2]", b"null", b"{", b'{"exp": NaN}', b'{"exp": Infinity}', b"\xff"],
    ids=repr,
)
def test_payload_that_is_not_a_json_object(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, payload: bytes
) -> None:
    token = raw_token({"alg": "HS256"}, payload, hmac_signer(JWT_SECRET.encode()))
    assert_refused(post(checked_client, hs_url, token), platform)


# -- encrypted tokens ---------------------------------------------------------------------------


def test_jwe_tokens_including_compressed_ones(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, rs_url: str,
    signing_key: RSAKey,
) -> None:
    plaintext = json.dumps(claims()).encode()
    shared = OctKey.import_key(JWT_SECRET.encode()[:32])
    public = {k: v for k, v in signing_key.as_dict(private=False).items() if k != "use"}
    rsa_public = RSAKey.import_key(public)
    tokens = [
        jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, plaintext, shared),
        jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM", "zip": "DEF"}, plaintext, shared),
        jwe.encrypt_compact({"alg": "RSA-OAEP", "enc": "A256GCM"}, plaintext, rsa_public),
        jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256", "zip": "DEF"}, plaintext, rsa_public,
            algorithms=["RSA-OAEP-256", "A128CBC-HS256", "DEF"],
        ),
        # A compression bomb: 8 MB of zeros in a few kilobytes.
        jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM", "zip": "DEF"},
                            b"0" * 8_000_000, shared),
    ]
    assert len(zlib.compress(b"0" * 8_000_000)) < 10_000
    for token in tokens:
        assert token.count(".") == 4
        for url in (hs_url, rs_url):
            assert_refused(post(checked_client, url, token), platform)


# -- the Authorization header itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token {token}",
        "{token}",
        "Bearer {token} extra",
        "Bearer  {token}x",
        "Bearer " + "A" * 9000,
        "Bearer " + "A.B." + "C" * 12_000,
    ],
    ids=lambda v: v[:24],
)
def test_malformed_or_oversized_authorization(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, value: str
) -> None:
    token = hs_token()
    header = value.format(token=token)
    response = checked_client.post(hs_url, json=body(), headers={"Authorization": header})
    assert_refused(response, platform)


def test_huge_authorization_header_is_refused_by_the_server_not_a_500(
    platform: FakePlatform, hs_url: str
) -> None:
    """The HTTP server refuses a 200 kB header line (400) before the app sees it. Sent in small
    pieces, pausing until the previous one is read, so that the server has read all that was
    sent when it answers and hangs up: the answer arrives, never a reset."""
    parts = urlsplit(hs_url)
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer ".encode()
    header = head + b"A" * 200_000 + b"\r\n\r\n"
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=15) as sock:
        for start in range(0, len(header), 2048):
            if select.select([sock], [], [], 0.01)[0]:
                break  # answered: stop sending
            sock.sendall(header[start:start + 2048])
        else:
            pytest.fail("the server read a 200 kB header line without refusing it")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    assert platform.calls == []


def test_two_authorization_headers_are_refused(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str
) -> None:
    good, other = hs_token(), hs_token(sub="rec_admin")
    for pair in ((good, other), (good, good), ("garbage", good)):
        headers = [("Authorization", f"Bearer {pair[0]}"), ("Authorization", f"Bearer {pair[1]}")]
        assert_refused(checked_client.post(hs_url, json=body(), headers=headers), platform)


def test_missing_authorization(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str
) -> None:
    assert_refused(checked_client.post(hs_url, json=body()), platform)


# -- time claims --------------------------------------------------------------------------------

NOW = int(time.time())


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 3600},
        {"exp": NOW - 31},  # just past the 30 s leeway
        {"exp": None},
        {"nbf": NOW + 3600},
        {"iat": NOW + 3600},
        {"exp": "9999999999"},
        {"exp": True},
        {"exp": [NOW + 300]},
        {"exp": {"t": NOW + 300}},
        {"nbf": "yesterday"},
        {"nbf": False},
        {"iat": "x"},
        {"iat": None, "nbf": None, "exp": "soon"},
    ],
    ids=lambda v: json.dumps(v)[:40],
)
def test_expired_not_yet_valid_future_and_non_numeric_time_claims(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str,
    overrides: dict[str, Any],
) -> None:
    assert_refused(post(checked_client, hs_url, hs_token(**overrides)), platform)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_expiry(
    checked_client: httpx2.Client, platform: FakePlatform, hs_url: str, value: bytes
) -> None:
    payload = b'{"sub": "rec_42", "exp": ' + value + b"}"
    token = raw_token({"alg": "HS256"}, payload, hmac_signer(JWT_SECRET.encode()))
    assert_refused(post(checked_client, hs_url, token), platform)


# -- issuer and audience ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example"},
        {"iss": ISSUER + ".evil"},
        {"iss": ISSUER + "/"},
        {"iss": "https://issuer"},
        {"iss": ISSUER.upper()},
        {"iss": [ISSUER]},
        {"iss": [ISSUER, "https://evil.example"]},
        {"iss": None},
        {"iss": ""},
        {"aud": "evil-api"},
        {"aud": AUDIENCE + "-x"},
        {"aud": AUDIENCE[:-1]},
        {"aud": "assessment"},
        {"aud": ["evil-api", "other"]},
        {"aud": [[AUDIENCE]]},
        {"aud": {"aud": AUDIENCE}},
        {"aud": None},
        {"aud": ""},
        {"aud": []},
    ],
    ids=lambda v: json.dumps(v)[:48],
)
def test_wrong_partial_or_list_valued_issuer_and_audience(
    checked_client: httpx2.Client, platform: FakePlatform, iss_aud_url: str,
    overrides: dict[str, Any],
) -> None:
    token = hs_token(**{"iss": ISSUER, "aud": AUDIENCE, **overrides})
    assert_refused(post(checked_client, iss_aud_url, token), platform)


def test_audience_list_containing_ours_is_accepted_as_rfc_7519_says(
    checked_client: httpx2.Client, platform: FakePlatform, iss_aud_url: str
) -> None:
    token = hs_token(iss=ISSUER, aud=["other-api", AUDIENCE])
    assert post(checked_client, iss_aud_url, token).status_code == 200
    assert len(platform.calls) == 1
