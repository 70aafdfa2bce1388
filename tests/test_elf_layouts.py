"""The two forms derived from formats/elf.py's row tables (construct and struct) agree."""

from __future__ import annotations

import random

import pytest

from pgwalk.formats import elf


def _value(kind, rng, elfclass):
    bits = {"half": 16, "word": 32, "xword": 64, "wide": 64 if elfclass == elf.ELFCLASS64 else 32}[kind]
    return rng.getrandbits(bits)


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("elfclass", [elf.ELFCLASS32, elf.ELFCLASS64])
def test_struct_parsers_read_what_construct_builds(little_endian, elfclass):
    s = elf.elf_structs(little_endian, elfclass)
    rng = random.Random(elfclass * 2 + little_endian)
    phdr_rows = elf.PHDR64_ROWS if elfclass == elf.ELFCLASS64 else elf.PHDR32_ROWS
    for layout, rows, parse in ((s.Ehdr, elf.EHDR_ROWS, s.parse_ehdr), (s.Phdr, phdr_rows, s.parse_phdr),
                                (s.Shdr, elf.SHDR_ROWS, s.parse_shdr), (s.Nhdr, elf.NHDR_ROWS, s.parse_nhdr)):
        for _ in range(20):
            values = {}
            for name, kind in rows:
                if kind == "ident":
                    values[name] = dict(EI_CLASS=elfclass, EI_DATA=1 if little_endian else 2, EI_VERSION=1,
                                        EI_OSABI=rng.randrange(256), EI_ABIVERSION=rng.randrange(256))
                else:
                    values[name] = _value(kind, rng, elfclass)
            data = layout.build(values)
            assert len(data) == layout.sizeof()
            got = parse(data)
            for name, kind in rows:
                if kind == "ident":
                    assert vars(got.e_ident) == {"EI_MAG": elf.ELFMAG, **values[name]}
                else:
                    assert getattr(got, name) == values[name], name


def test_opening_an_elf_core_does_not_import_construct(tmp_path):
    import subprocess
    import sys

    s = elf.elf_structs(True, elf.ELFCLASS64)
    ident = dict(EI_CLASS=2, EI_DATA=1, EI_VERSION=1, EI_OSABI=0, EI_ABIVERSION=0)
    phdr = s.Phdr.build(dict(p_type=elf.PT_LOAD, p_flags=0, p_offset=0x1000, p_vaddr=0, p_paddr=0x40000000,
                             p_filesz=0x1000, p_memsz=0x1000, p_align=0))
    ehdr = s.Ehdr.build(dict(e_ident=ident, e_type=elf.ET_CORE, e_machine=elf.EM_AARCH64, e_version=1, e_entry=0,
                             e_phoff=64, e_shoff=0, e_flags=0, e_ehsize=64, e_phentsize=56, e_phnum=1,
                             e_shentsize=64, e_shnum=0, e_shstrndx=0))
    path = tmp_path / "core"
    path.write_bytes((ehdr + phdr).ljust(0x1000, b"\0") + bytes(range(256)) * 16)
    code = ("import sys; from pgwalk.images import open_images; m = open_images([sys.argv[1]]); "
            "assert m.read(0x40000000, 4) == bytes([0, 1, 2, 3]); "
            "assert 'construct' not in sys.modules, 'construct was imported'")
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
