"""The pgwalk exception family.

Faults found by a walk are *values* (:class:`pgwalk.faults.Fault`), never
exceptions.  Exceptions are for bad input at the I/O boundary: unreadable or
corrupt files, malformed register values, addresses that are not numbers.
The CLI turns each into one line on stderr and exit status 2.
"""

from __future__ import annotations

__all__ = ["PgwalkError", "ImageError", "RegisterError", "InputError", "NotInImage", "UnknownRegister", "ReadError"]


class PgwalkError(Exception):
    """Base class: something the user gave pgwalk is wrong or unreadable."""


class ImageError(PgwalkError):
    """A memory image or crash dump is unreadable, truncated or corrupt."""


class RegisterError(PgwalkError):
    """A register file or register value is malformed or unknown."""


class InputError(PgwalkError):
    """An address, batch line or option value is malformed."""


class NotInImage(PgwalkError):
    """A physical address is not backed by any region of the memory image.

    The walker catches this and reports a synchronous external abort on the
    walk at the level being read; it never escapes a walk.
    """

    def __init__(self, address: int, size: int = 8, reason: str = "not in the image"):
        super().__init__(f"physical address {address:#x} ({size} bytes) {reason}")
        self.address = address
        self.size = size
        self.reason = reason


class UnknownRegister(RegisterError):
    """A walk needs a register whose value nobody gave (not an architectural fault).

    An absent register is unknown, not zero: a table base register (TTBRn_ELx)
    that was not given stops the walk before it starts.  The typical case is a
    crash dump whose VMCOREINFO gives the kernel's tables (TTBR1_EL1 on
    swapper_pg_dir) but not the process's TTBR0_EL1.
    """

    def __init__(self, name: str, va: int | None = None, hint: str = "", what: str = ""):
        if not what and va is not None:
            what = f"the walk of {va:#x} cannot start"
        super().__init__(f"{name} is unknown" + (f": {what}" if what else "")
                         + (f" ({hint})" if hint else f" (give it with --reg {name}=VALUE)"))
        self.name = name
        self.va = va


class ReadError(PgwalkError):
    """Bytes asked for (:meth:`pgwalk.target.Target.read`) could not be read: the walk faulted,
    or the page is not in the image or dump (drgn's ``FaultError``).

    :ivar address: the first address of the run that could not be read (as asked: VA or PA)
    :ivar size: bytes in that run
    :ivar reason: why
    """

    def __init__(self, address: int, size: int, reason: str):
        super().__init__(f"{size:#x} bytes at {address:#x} not read: {reason}")
        self.address = address
        self.size = size
        self.reason = reason
