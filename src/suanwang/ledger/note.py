"""Signed notes (C2SP signed-note) with Ed25519 keys, and the key strings of the format.

A note is UTF-8 text ending in a newline, a blank line, then one signature line per signer:

    <text>\\n
    \\n
    — <key name> <base64(key id (4 bytes) || Ed25519 signature of the text)>\\n

The key id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key), 0x01 the
Ed25519 signature type. A verifier key is `<name>+<key id, 8 hex>+<base64(0x01 || public
key)>`; the signer key `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || private seed)>`, the form
Go's golang.org/x/mod/sumdb/note reads. Signatures by keys a verifier does not know are
ignored; a note verifies only if a known key signed it and every known key's signature is good.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519 = 0x01
SIG_PREFIX = "— "  # U+2014 em dash, then a space
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify."""


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519])
                          + public_key).digest()[:4]


def b64decode_strict(text: str) -> bytes:
    """Standard base64, and only its one canonical spelling (the bits the padding leaves
    unused must be zero): ValueError otherwise. Two texts never give the same bytes."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


def _b64decode(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes  # 32 bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def key_string(self) -> str:
        raw = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.id.hex()}+{raw}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """A verifier key string `name+hexid+base64(0x01||pubkey)`."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not _valid_name(parts[0]) or len(parts[1]) != 8:
            raise NoteError("a verifier key reads name+keyid(8 hex)+base64 key")
        name, hex_id, raw = parts
        key = _b64decode(raw, "the verifier key")
        if len(key) != 33 or key[0] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key (0x01 and 32 bytes)")
        v = cls(name, key[1:])
        if v.id.hex() != hex_id.lower():
            raise NoteError(f"the verifier key's id {hex_id} does not match its name and key "
                            f"({v.id.hex()})")
        return v

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes  # the 32-byte Ed25519 private key

    @classmethod
    def generate(cls, name: str) -> Signer:
        if not _valid_name(name):
            raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                         NoEncryption())
        return cls(name, seed)

    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        pub = self._key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, pub)

    def key_string(self) -> str:
        raw = base64.b64encode(bytes([ED25519]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{raw}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _valid_name(parts[2]):
            raise NoteError("a signer key reads PRIVATE+KEY+name+keyid+base64 key")
        key = _b64decode(parts[4], "the signer key")
        if len(key) != 33 or key[0] != ED25519:
            raise NoteError("the signer key is not an Ed25519 key (0x01 and 32 bytes)")
        s = cls(parts[2], key[1:])
        if s.verifier.id.hex() != parts[3].lower():
            raise NoteError("the signer key's id does not match its name and key")
        return s

    def signature_line(self, text: str) -> str:
        sig = self._key().sign(text.encode("utf-8"))
        raw = base64.b64encode(self.verifier.id + sig).decode("ascii")
        return f"{SIG_PREFIX}{self.name} {raw}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with one newline and has no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note's text has control characters")


def sign(text: str, *signers: Signer) -> str:
    """The signed note of `text` (which ends in a newline and has no blank line)."""
    _check_text(text)
    return text + "\n" + "".join(s.signature_line(text) for s in signers)


def cosign(note: str, signer: Signer) -> str:
    """`note` with one more signature line (a witness's), over the same text."""
    text, _ = split(note)
    return note + signer.signature_line(text)


@dataclass(frozen=True)
class Signature:
    name: str
    id: bytes
    sig: bytes


def split(note: str) -> tuple[str, list[Signature]]:
    """(text, signatures) of a note; NoteError if it is not a well-formed signed note."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("not a signed note: no blank line before the signatures")
    text, rest = note[:cut + 1], note[cut + 2:]
    _check_text(text)
    if not rest.endswith("\n"):
        raise NoteError("the note's last signature line does not end with a newline")
    sigs: list[Signature] = []
    for line in rest[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise NoteError("a signature line does not start with '— '")
        parts = line[len(SIG_PREFIX):].split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise NoteError("a signature line reads '— <name> <base64 signature>'")
        raw = _b64decode(parts[1], f"the signature of {parts[0]}")
        if len(raw) < 5:
            raise NoteError(f"the signature of {parts[0]} is too short")
        sigs.append(Signature(parts[0], raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("the note has no signature")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    return text, sigs


def open_note(note: str, *verifiers: Verifier) -> tuple[str, list[str]]:
    """(text, names of the known keys that signed it). NoteError if no known key signed it
    or a known key's signature is bad."""
    text, sigs = split(note)
    known = {(v.name, v.id): v for v in verifiers}
    good: list[str] = []
    for s in sigs:
        v = known.get((s.name, s.id))
        if v is None:
            continue
        if not v.verify(text.encode("utf-8"), s.sig):
            raise NoteError(f"the signature of {s.name} ({s.id.hex()}) does not verify: the "
                            "note was altered or signed by another key")
        if s.name not in good:
            good.append(s.name)
    if not good:
        names = ", ".join(f"{s.name}+{s.id.hex()}" for s in sigs)
        raise NoteError(f"the note is not signed by the key given ({names} signed it)")
    return text, good
