"""Checkpoints in the C2SP ``tlog-checkpoint`` format, as Ed25519 signed notes.

A checkpoint body is three lines: origin, tree size (decimal), root hash (standard base64).
The signed note appends a blank line and one signature line per signer:
``— <key name> <base64(4-byte key id || 64-byte signature)>``, where the key id is the first
four bytes of ``SHA-256(key name || "\\n" || 0x01 || public key)`` and the signature covers the
body text including its final newline. The verifier key is ``<name>+<hex key id>+<base64(0x01
|| public key)>``: the string standard tooling (e.g. golang.org/x/mod/sumdb/note) reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from capgraph.core.signing import SigningKey
from capgraph.errors import SignatureInvalid

__all__ = ["Checkpoint", "NoteVerifier", "parse_checkpoint", "sign_checkpoint"]

_ED25519 = b"\x01"
_DASH = "\u2014 "


def _key_id(name: str, raw_public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + raw_public).digest()[:4]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclass(frozen=True)
class NoteVerifier:
    """A signed-note verifier: key name plus Ed25519 public key."""

    name: str
    raw_public: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.raw_public)

    def encode(self) -> str:
        """``<name>+<hex key id>+<base64(0x01 || key)>``."""
        return (f"{self.name}+{self.key_id.hex()}+"
                f"{base64.b64encode(_ED25519 + self.raw_public).decode()}")

    @classmethod
    def decode(cls, text: str) -> NoteVerifier:
        try:
            name, hex_id, key_b64 = text.strip().split("+", 2)
            key = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise SignatureInvalid(f"malformed verifier key: {exc}") from exc
        if len(key) != 33 or key[:1] != _ED25519:
            raise SignatureInvalid("verifier key is not an Ed25519 key")
        verifier = cls(name, key[1:])
        if verifier.key_id.hex() != hex_id:
            raise SignatureInvalid("verifier key id does not match its key")
        return verifier


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey, *, name: str) -> str:
    """The signed note text of a checkpoint."""
    body = checkpoint.body()
    raw_sig = base64.b64decode(key.sign_bytes(body.encode()))
    line = base64.b64encode(_key_id(name, key.public.raw) + raw_sig).decode()
    return f"{body}\n{_DASH}{name} {line}\n"


def parse_checkpoint(note: str, verifier: NoteVerifier) -> Checkpoint:
    """Parse a signed checkpoint note and check the verifier's signature on it.

    Raises ``SignatureInvalid`` when the note is malformed or carries no valid signature by
    the verifier. Signatures by other keys are ignored, as the signed-note format asks.
    """
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise SignatureInvalid("checkpoint has no signature block")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4:
        raise SignatureInvalid("checkpoint body needs origin, size and root hash lines")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureInvalid(f"malformed checkpoint body: {exc}") from exc
    if size < 0 or len(root) != 32 or lines[1] != str(size):
        raise SignatureInvalid("malformed checkpoint size or root hash")
    # Split on "\n" only and demand the final newline, as golang.org/x/mod/sumdb/note does:
    # splitlines() would also split on \v, \f, \x1c..., so a flipped bit could go unnoticed.
    if not signatures.endswith("\n"):
        raise SignatureInvalid("checkpoint signature block does not end with a newline")
    found = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(_DASH):
            continue
        name, _, sig_b64 = line[len(_DASH):].rpartition(" ")
        if name != verifier.name:
            continue
        try:
            raw = base64.b64decode(sig_b64, validate=True)
        except binascii.Error:
            continue
        # Only the canonical encoding: base64 ignores the padding bits of the last character,
        # which would let a changed signature line verify.
        if (len(raw) != 68 or raw[:4] != verifier.key_id
                or base64.b64encode(raw).decode() != sig_b64):
            continue
        try:
            Ed25519PublicKey.from_public_bytes(verifier.raw_public).verify(raw[4:], body.encode())
        except InvalidSignature as exc:
            raise SignatureInvalid("checkpoint signature does not verify") from exc
        found = True
    if not found:
        raise SignatureInvalid(f"checkpoint is not signed by {verifier.name}")
    return Checkpoint(origin=lines[0], size=size, root=root)
