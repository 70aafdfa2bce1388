"""Fuzz harnesses and their shared targets (see tests/fuzz/README.md)."""
