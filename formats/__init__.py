"""Byte and bit layouts (construct declarations and field tables), no policy.

Installed as ``pgwalk.formats``.
"""

__all__ = ["descriptors", "elf", "esr", "fields", "kdump", "registers"]
