"""Checkpoints (core/checkpoint.py): the C2SP tlog-checkpoint body, the signed-note envelope,
verifier keys, and interoperability with golang.org/x/mod/sumdb/note."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from capgraph.core.checkpoint import Checkpoint, NoteVerifier, parse_checkpoint, sign_checkpoint
from capgraph.core.signing import SigningKey
from capgraph.errors import SignatureInvalid

ORIGIN = "registry.test/log"
KEY = SigningKey.generate(created_at="2026-01-01T00:00:00.000Z")
VERIFIER = NoteVerifier(ORIGIN, KEY.public.raw)
# bytes chosen so the standard base64 of the root has both '+' and '/' in it
ROOT = bytes.fromhex("fbef" * 16)
HEAD = Checkpoint(ORIGIN, 1234, ROOT)
NOTE = sign_checkpoint(HEAD, KEY, name=ORIGIN)

# The example from the golang.org/x/mod/sumdb/note package documentation.
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_SIGNATURE_LINE = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFY"
                     "C2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")
GO_NOTE = f"{GO_TEXT}\n{GO_SIGNATURE_LINE}\n"


def open_note(note: str, verifier: NoteVerifier) -> str:
    """A minimal signed-note reader written from the format's description (independent of
    ``parse_checkpoint``): returns the text when one signature line is the verifier's and
    verifies, else raises ``SignatureInvalid``."""
    split = note.rindex("\n\n")
    text, block = note[:split + 1], note[split + 2:]
    assert block.endswith("\n")
    for line in block[:-1].split("\n"):
        assert line.startswith("\u2014 "), line
        name, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64, validate=True)
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(verifier.raw_public).verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise SignatureInvalid("bad signature") from exc
        return text
    raise SignatureInvalid("no signature by the verifier")


# -- format ----------------------------------------------------------------------------------
def test_checkpoint_body_is_origin_size_and_standard_base64_root() -> None:
    body = HEAD.body()
    assert body == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
    assert "+" in body and "/" in body and "-" not in body.split("\n")[2]


def test_signed_note_is_body_blank_line_and_one_em_dash_signature_line() -> None:
    body, signatures = NOTE.split("\n\n")
    assert body + "\n" == HEAD.body()
    assert signatures.endswith("\n") and signatures.count("\n") == 1
    dash, name, sig = signatures[:-1].split(" ")
    assert dash == "\u2014" and name == ORIGIN
    raw = base64.b64decode(sig, validate=True)
    assert len(raw) == 4 + 64
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + KEY.public.raw).digest()[:4]
    assert raw[:4] == expected_id == VERIFIER.key_id
    Ed25519PublicKey.from_public_bytes(KEY.public.raw).verify(raw[4:], HEAD.body().encode())


def test_verifier_key_is_name_hex_key_id_and_base64_of_type_byte_and_key() -> None:
    text = VERIFIER.encode()
    name, hex_id, key = text.split("+", 2)
    assert name == ORIGIN and hex_id == VERIFIER.key_id.hex() and len(hex_id) == 8
    assert base64.b64decode(key) == b"\x01" + KEY.public.raw
    assert NoteVerifier.decode(text) == VERIFIER


def test_parse_returns_the_signed_checkpoint() -> None:
    assert parse_checkpoint(NOTE, VERIFIER) == HEAD
    assert open_note(NOTE, VERIFIER) == HEAD.body()


# -- interop with golang.org/x/mod/sumdb/note -------------------------------------------------
def test_go_note_verifier_key_decodes_and_re_encodes_identically() -> None:
    verifier = NoteVerifier.decode(GO_VERIFIER_KEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id.hex() == "c74f20a3"
    assert verifier.encode() == GO_VERIFIER_KEY


def test_go_note_signature_verifies_with_capgraphs_key_id_and_verifier() -> None:
    verifier = NoteVerifier.decode(GO_VERIFIER_KEY)
    raw = base64.b64decode(GO_SIGNATURE_LINE.split(" ")[2], validate=True)
    assert raw[:4] == verifier.key_id
    Ed25519PublicKey.from_public_bytes(verifier.raw_public).verify(raw[4:], GO_TEXT.encode())
    assert open_note(GO_NOTE, verifier) == GO_TEXT
    with pytest.raises(SignatureInvalid):
        open_note(GO_NOTE.replace("answer", "Answer"), verifier)


def test_go_note_is_not_taken_for_a_checkpoint() -> None:
    with pytest.raises(SignatureInvalid, match="body"):
        parse_checkpoint(GO_NOTE, NoteVerifier.decode(GO_VERIFIER_KEY))


def test_decode_refuses_a_verifier_key_whose_id_does_not_match() -> None:
    with pytest.raises(SignatureInvalid, match="id"):
        NoteVerifier.decode(GO_VERIFIER_KEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(SignatureInvalid):
        NoteVerifier.decode("PeterNeumann+c74f20a3+AhpcMQ==")
    with pytest.raises(SignatureInvalid):
        NoteVerifier.decode("no plus signs")


# -- refusals --------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(NOTE.encode()) * 8 - 1))
def test_any_flipped_bit_in_the_note_fails_verification(bit: int) -> None:
    data = bytearray(NOTE.encode())
    data[bit // 8] ^= 1 << (bit % 8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # not UTF-8 text at all: no reader gets as far as a signature
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(text, VERIFIER)


def test_every_flipped_bit_of_the_note_fails() -> None:
    # Exhaustive: this caught a vertical tab in place of the final newline and non-canonical
    # base64 (changed padding bits of the signature's last character) both verifying.
    data = NOTE.encode()
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            text = flipped.decode("utf-8")
        except UnicodeDecodeError:
            continue
        with pytest.raises(SignatureInvalid):
            parse_checkpoint(text, VERIFIER)


def test_a_checkpoint_signed_by_another_key_fails() -> None:
    other = SigningKey.generate(created_at="2026-01-01T00:00:00.000Z")
    forged = sign_checkpoint(HEAD, other, name=ORIGIN)
    with pytest.raises(SignatureInvalid, match="not signed by"):
        parse_checkpoint(forged, VERIFIER)
    # the other key's signature line, with our key id spliced in, is a bad signature
    sig = base64.b64decode(forged.rsplit(" ", 1)[1])
    spliced = forged.rsplit(" ", 1)[0] + " " + base64.b64encode(VERIFIER.key_id + sig[4:]).decode()
    with pytest.raises(SignatureInvalid, match="does not verify"):
        parse_checkpoint(spliced + "\n", VERIFIER)


def test_signatures_by_other_signers_are_ignored() -> None:
    witness = SigningKey.generate(created_at="2026-01-01T00:00:00.000Z")
    cosigned = NOTE + sign_checkpoint(HEAD, witness, name="witness.example").split("\n\n")[1]
    assert parse_checkpoint(cosigned, VERIFIER) == HEAD
    only_witness = sign_checkpoint(HEAD, witness, name="witness.example")
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(only_witness, VERIFIER)


@pytest.mark.parametrize("note", [
    HEAD.body(),  # no signature block
    NOTE.rstrip("\n"),  # signature block without its final newline
    NOTE.replace("\n1234\n", "\n+1234\n"),
    NOTE.replace("\n1234\n", "\n01234\n"),
    NOTE.replace("\n1234\n", "\nmany\n"),
    NOTE.replace(base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[:31]).decode()),
    NOTE.replace(base64.b64encode(ROOT).decode(), "not base64!"),
    f"{ORIGIN}\n1234\n\n" + NOTE.split("\n\n")[1],
])
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(SignatureInvalid):
        parse_checkpoint(note, VERIFIER)
