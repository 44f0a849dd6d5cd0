"""Atomic writes: whole file or nothing, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat

import pytest

from garmentcli.io.atomic import atomic_write


def test_new_file_gets_umask_permissions_not_private_ones(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "out.json"
        with atomic_write(target) as handle:
            handle.write("{}")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_existing_file_keeps_its_mode_and_is_replaced(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_write(target) as handle:
        handle.write("new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_binary_mode_and_missing_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    with atomic_write(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
