"""pgwalk: AArch64 page-table forensics.

The library is usable without the CLI: :mod:`pgwalk.memory` (images),
:mod:`pgwalk.regs` (register files), :mod:`pgwalk.params` (walk parameters),
:mod:`pgwalk.walk` (the walker), :mod:`pgwalk.at` (AT / PAR_EL1).
"""

__version__ = "0.1.0"
