"""Signed notes and checkpoints: the published vectors of golang.org/x/mod/sumdb/note (the
reference implementation of C2SP signed-note), tampering, unknown keys, key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from suanwang.errors import InputError
from suanwang.ledger.checkpoint import (
    Checkpoint,
    open_checkpoint,
    read_signer,
    read_verifier,
    write_keys,
)
from suanwang.ledger.merkle import EMPTY_ROOT
from suanwang.ledger.note import NoteError, Signer, Verifier, cosign, open_note, sign

# from the package documentation of golang.org/x/mod/sumdb/note
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = (GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC"
           "2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_the_reference_vectors() -> None:
    signer = Signer.parse(GO_SIGNER)
    assert signer.verifier.key_string() == GO_VERIFIER
    assert signer.key_string() == GO_SIGNER
    assert sign(GO_TEXT, signer) == GO_NOTE  # Ed25519 is deterministic: the same bytes
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == (GO_TEXT, ["PeterNeumann"])


def test_altered_notes_and_other_keys_are_refused() -> None:
    v = Verifier.parse(GO_VERIFIER)
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("answer", "answe r"), v)
    with pytest.raises(NoteError, match="not signed by the key given"):
        open_note(GO_NOTE, Signer.generate("PeterNeumann").verifier)
    with pytest.raises(NoteError):
        open_note(GO_TEXT, v)  # no signature
    with pytest.raises(NoteError):
        Verifier.parse(GO_VERIFIER.replace("c74f20a3", "c74f20a4"))


def test_a_witness_cosignature_adds_a_line_both_keys_verify() -> None:
    log, witness = Signer.generate("log.example"), Signer.generate("grid.example")
    note = cosign(sign("hello\n", log), witness)
    assert open_note(note, log.verifier, witness.verifier)[1] == ["log.example",
                                                                 "grid.example"]
    assert open_note(note, witness.verifier)[1] == ["grid.example"]


def test_checkpoint_round_trip_and_origin() -> None:
    s = Signer.generate("suanwang.test/ledger")
    cp = Checkpoint("suanwang.test/ledger", 7, EMPTY_ROOT)
    note = cp.sign(s)
    assert note.splitlines()[:4] == ["suanwang.test/ledger", "7",
                                     "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", ""]
    assert note.splitlines()[4].startswith("— suanwang.test/ledger ")
    assert open_checkpoint(note, s.verifier) == cp
    other = Signer.generate("other.log")
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(Checkpoint("suanwang.test/ledger", 7, EMPTY_ROOT).sign(other),
                        other.verifier)


def test_key_files(tmp_path: Path) -> None:
    key, pub = write_keys(tmp_path / "data", "suanwang.test/ledger")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    signer = read_signer(key)
    assert read_verifier(pub) == signer.verifier
    assert read_verifier(pub.read_text().strip()) == signer.verifier
    with pytest.raises(InputError, match="never overwritten"):
        write_keys(tmp_path / "data", "suanwang.test/ledger")
    os.chmod(key, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        read_signer(key)
