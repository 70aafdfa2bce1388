"""The written memory protocol (pgwalk.memory_protocol): every backend satisfies it, consumers
ask for optional capabilities by their documented names only, and the batched read agrees
with read_u64 on real dumps."""

from __future__ import annotations

import doctest
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import pgwalk.memory_protocol as MP
from pgwalk.errors import NotInImage
from pgwalk.images import open_images
from pgwalk.live import LiveMemory
from pgwalk.memory import PhysicalMemory
from pgwalk.memory_protocol import OPTIONAL, Memory, capability, read_many, source_label

sys.path.insert(0, str(Path(__file__).resolve().parent))
from makedumpfile_data import public_dir  # noqa: E402
from oracle_data import linux_vmcore_elf  # noqa: E402


def test_docstring_examples():
    assert doctest.testmod(MP).failed == 0


def test_live_memory_declares_the_protocol():
    assert issubclass(LiveMemory, Memory)
    for name in ("regions", "contents_missing", "contents_missing_mask", "contains", "elf_cores", "close"):
        assert name in OPTIONAL and hasattr(LiveMemory, name), name
    assert LiveMemory.regions == ()          # unknown: the vectorised reader asks read_u64


def test_test_memories_satisfy_the_protocol():
    words = PhysicalMemory.from_words({0x1000: 0x1122334455667788}, ram=(0, 0x2000))
    bufs = PhysicalMemory.from_buffers({0x4000: struct.pack("<Q", 5) * 2})
    for mem in (words, bufs, PhysicalMemory()):
        assert isinstance(mem, Memory)
    assert words.read_u64(0x1000) == 0x1122334455667788
    with pytest.raises(NotInImage) as e:
        words.read(0x8000, 8)
    assert (e.value.address, e.value.size) == (0x8000, 8) and e.value.reason


def test_raw_image_satisfies_the_protocol(tmp_path):
    p = tmp_path / "mem.bin"
    p.write_bytes(struct.pack("<4Q", 1, 2, 3, 4))
    with open_images([f"{p}@0x40000000"]) as mem:
        assert isinstance(mem, Memory)
        assert [r.base for r in capability(mem, "regions")] == [0x40000000]
        v, ok = read_many(mem, np.array([0x40000008, 0x40000000, 0x50000000], dtype=np.uint64))
        assert v.tolist() == [2, 1, 0] and ok.tolist() == [True, True, False]


def test_elf_dump_read_many_agrees_with_read_u64():
    core = linux_vmcore_elf()
    if core is None:
        pytest.skip("shared oracle ELF vmcore not available")
    with open_images([str(core)]) as mem:
        assert isinstance(mem, Memory) and capability(mem, "elf_cores")
        r = capability(mem, "regions")[0]
        pas = np.arange(r.base, r.base + 64 * 8, 8, dtype=np.uint64)
        pas = np.concatenate([pas, np.array([2**64 - 8], dtype=np.uint64)])
        v, ok = read_many(mem, pas)
        assert ok[:-1].all() and not ok[-1]
        assert v[:-1].tolist() == [mem.read_u64(int(a)) for a in pas[:-1]]


def test_kdump_and_split_kdump_satisfy_the_protocol():
    d = public_dir()
    if d is None:
        pytest.skip("shared makedumpfile samples not available")
    names = [d / "max-zstd-d31", *(d / f"max-zstd-d31.split-{i}of3" for i in (1, 2, 3))]
    for specs in ([names[0]], names[1:]):
        try:
            mem = open_images([str(n) for n in specs])
        except Exception as e:  # zstd module missing
            pytest.skip(str(e))
        with mem:
            assert isinstance(mem, Memory)
            assert capability(mem, "contents_missing") is not None
            assert capability(mem, "elf_cores")


def test_capability_refuses_undocumented_names():
    mem = PhysicalMemory()
    with pytest.raises(ValueError):
        capability(mem, "_backings")
    with pytest.raises(ValueError):
        capability(mem, "find_region")
    assert capability(object(), "regions") is None


def test_read_many_uses_the_backends_own_batch():
    class Batched:
        calls = 0

        def read_u64(self, pa, big_endian=False):
            raise AssertionError("read_many should have been used")

        def read(self, pa, size):
            raise AssertionError("read_many should have been used")

        def read_many(self, pas, big_endian=False):
            Batched.calls += 1
            return pas + np.uint64(1), pas < np.uint64(100)

    v, ok = read_many(Batched(), np.array([1, 200], dtype=np.uint64))
    assert Batched.calls == 1 and v.tolist() == [2, 201] and ok.tolist() == [True, False]


def test_read_many_lets_backend_failures_through():
    class Broken:
        def read_u64(self, pa, big_endian=False):
            raise OSError("connection lost")

        def read(self, pa, size):
            raise OSError("connection lost")

    with pytest.raises(OSError):
        read_many(Broken(), np.array([8], dtype=np.uint64))


def test_source_label():
    class Labelled:
        label = "gdb stub 127.0.0.1:1234"

    assert source_label(Labelled()) == "gdb stub 127.0.0.1:1234"
    assert source_label(PhysicalMemory()) == "the image"
