"""Proof fetches over real TLS on 127.0.0.1: the connection goes to the checked IP, yet the
certificate is verified against the URL's host name, which is also sent as SNI and Host. The
certificates are made here (a throwaway CA and a leaf for "localhost")."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from capgraph.proofs.fetch import fetch
from tests.integration.test_proofs_http import TOKEN, WELL_KNOWN, LocalWeb, claim


def _cert(subject: str, issuer_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey,
          issuer: str, *, ca: bool, names: list[x509.GeneralName]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a "localhost" certificate, client context trusting its CA)."""
    folder: Path = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("proof test CA", ca_key, ca_key, "proof test CA", ca=True, names=[])
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("localhost", ca_key, key, "proof test CA", ca=False,
                 names=[x509.DNSName("localhost")])
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "leaf.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    return server, client


@pytest.fixture
def secure_web(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[tuple[LocalWeb, list[str]]]:
    server_context, _ = tls
    names: list[str] = []

    def seen(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    server_context.sni_callback = seen
    web = LocalWeb(ssl_context=server_context)
    web.routes[WELL_KNOWN] = claim(TOKEN)
    yield web, names
    web.close()


def test_tls_to_the_checked_address_is_verified_against_the_name(
        secure_web: tuple[LocalWeb, list[str]], tls: tuple[ssl.SSLContext, ssl.SSLContext]
        ) -> None:
    web, sni = secure_web
    fetched = fetch(f"https://localhost:{web.port}{WELL_KNOWN}", allow_private=True,
                    timeout=3.0, max_bytes=65_536, ssl_context=tls[1])
    assert fetched.problem == ""
    assert fetched.body is not None and TOKEN.encode() in fetched.body
    assert sni == ["localhost"]
    assert web.requests == [(f"localhost:{web.port}", WELL_KNOWN)]


def test_a_certificate_for_another_name_is_refused(
        secure_web: tuple[LocalWeb, list[str]], tls: tuple[ssl.SSLContext, ssl.SSLContext]
        ) -> None:
    web, _ = secure_web
    fetched = fetch(f"https://127.0.0.1:{web.port}{WELL_KNOWN}", allow_private=True,
                    timeout=3.0, max_bytes=65_536, ssl_context=tls[1])
    assert fetched.body is None
    assert fetched.problem.startswith("could not connect: TLS certificate not valid (")
    assert web.requests == []


def test_an_untrusted_certificate_is_refused_by_the_default_trust_store(
        secure_web: tuple[LocalWeb, list[str]]) -> None:
    web, _ = secure_web
    fetched = fetch(f"https://localhost:{web.port}{WELL_KNOWN}", allow_private=True,
                    timeout=3.0, max_bytes=65_536)
    assert fetched.body is None
    assert "TLS certificate not valid" in fetched.problem
    assert web.requests == []
