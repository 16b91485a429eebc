"""Signed checkpoints of the ledger's Merkle log (C2SP tlog-checkpoint), and the key files.

A checkpoint is a signed note (`note`) whose text is

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n

The origin is the log's name, the signing key's name. One is signed at the end of every
closed hour (the tree's size then); anyone holding an old checkpoint can ask for a
consistency proof to a newer one (`merkle.verify_consistency`), so a past that was rewritten
and re-hashed, even with a new signature, is caught.

Keys: `suanwang ledger keygen` writes `ledger.key` (the signer key string, mode 0600, never
overwritten) and `ledger.pub` (the verifier key string, to hand to tenants) in the data
directory.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from suanwang.errors import InputError
from suanwang.ledger.merkle import HASH_SIZE
from suanwang.ledger.note import NoteError, Signer, Verifier, b64decode_strict, open_note, sign

KEY_FILE = "ledger.key"
PUB_FILE = "ledger.pub"
KEY_ENV = "SUANWANG_LEDGER_KEY"  # a signer key file to use instead of the data directory's


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()  # extension lines (the summary log's, see `sums`)

    def text(self) -> str:
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"
                + "".join(f"{x}\n" for x in self.extensions))

    def sign(self, signer: Signer) -> str:
        return sign(self.text(), signer)

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4:
            raise NoteError("a checkpoint has an origin, a tree size and a root hash line")
        origin, size, root = lines[:3]
        if not origin:
            raise NoteError("the checkpoint's origin line is empty")
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"the checkpoint's tree size {size!r} is not a decimal number")
        try:
            raw = b64decode_strict(root)
        except (binascii.Error, ValueError):
            raise NoteError("the checkpoint's root hash is not base64") from None
        if len(raw) != HASH_SIZE:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), raw, tuple(lines[3:-1]))


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """The checkpoint of a signed note, if `verifier` signed it; NoteError otherwise."""
    text, _ = open_note(note, verifier)
    cp = Checkpoint.parse_text(text)
    want = verifier.name if origin is None else origin
    if cp.origin != want:
        raise NoteError(f"the checkpoint's origin {cp.origin!r} is not the log {want!r}")
    return cp


# ---- key files ---------------------------------------------------------------------------

def write_keys(directory: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """Generate a signing key; write `ledger.key` (mode 0600) and `ledger.pub`."""
    try:
        signer = Signer.generate(name)
    except NoteError as exc:
        raise InputError("command line", "--name", name, str(exc)) from None
    directory.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = directory / KEY_FILE, directory / PUB_FILE
    if key_path.exists() and not force:
        raise InputError.file(key_path,
                         "a signing key is already there; it is never overwritten (give "
                         "--force to replace it: checkpoints signed so far then verify only "
                         "with the old public key)")
    if force and key_path.exists():
        key_path.unlink()
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(signer.key_string() + "\n")
    os.chmod(key_path, 0o600)
    pub_path.write_text(signer.verifier.key_string() + "\n", encoding="ascii")
    return key_path, pub_path


def read_signer(path: Path) -> Signer:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.file(path, f"cannot read the signing key: {exc}") from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise InputError(str(path), "(mode)", oct(path.stat().st_mode & 0o777),
                         "the signing key is readable by others: chmod 600 it")
    try:
        return Signer.parse(text)
    except NoteError as exc:
        raise InputError.file(path, str(exc)) from None


def read_verifier(path_or_key: str | Path) -> Verifier:
    """A verifier key from a file (`ledger.pub`) or given as the key string itself."""
    text = str(path_or_key)
    path = Path(text)
    if "+" not in text or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError.file(path, f"cannot read the public key: {exc}") from None
    try:
        return Verifier.parse(text)
    except NoteError as exc:
        raise InputError.file(path_or_key, str(exc)) from None


def find_signer(data_dir: Path | None) -> Signer | None:
    """The signer of `$SUANWANG_LEDGER_KEY`, else the data directory's `ledger.key`, else
    None."""
    env = os.environ.get(KEY_ENV)
    if env:
        return read_signer(Path(env))
    if data_dir is not None and (data_dir / KEY_FILE).is_file():
        return read_signer(data_dir / KEY_FILE)
    return None
