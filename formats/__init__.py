"""Byte and bit layouts (construct declarations and field tables), no policy.

Installed as ``pgwalk.formats``.
"""
