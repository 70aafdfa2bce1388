"""``pgwalk vtop`` and ``pgwalk ptov``: the Linux kernel's fixed conversions (as crash offers).

They need no table walk: the linear map is ``PA = VA - PAGE_OFFSET + PHYS_OFFSET`` and
the kernel image ``PA = VA - kimage_voffset``, both from the dump's VMCOREINFO.  Use
``pgwalk translate`` to see what the tables themselves say.
"""

from __future__ import annotations

import click


def _info(dump: str):
    from ..errors import InputError
    from ..linux import vmcoreinfo_from_memory
    from ..memory import open_images

    mem = open_images([dump])
    info = vmcoreinfo_from_memory(mem)
    if info is None:
        texts = [t for t in (getattr(c, "vmcoreinfo", None) for c in mem.elf_cores) if t]
        if texts:
            from ..vmcoreinfo import parse_vmcoreinfo

            try:
                parse_vmcoreinfo(texts[0])
            except InputError as exc:
                raise InputError(f"{dump}: the dump's VMCOREINFO is unreadable ({exc}); vtop/ptov need "
                                 "the kernel's layout") from None
        raise InputError(f"{dump}: no VMCOREINFO in this dump (vtop/ptov need the kernel's layout)")
    return info


@click.command()
@click.argument("dump")
@click.argument("addresses", nargs=-1, required=True, metavar="VA...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per address.")
def vtop(dump, addresses, as_json):
    """Kernel VA -> PA by the linear-map or kernel-image formula (no walk)."""
    import json

    from ..errors import InputError
    from ..linux import is_linear, kernel_layout, kimage_vtop, label_address, untag, vtop_linear
    from .common import parse_address

    info = _info(dump)
    layout = kernel_layout(info)
    rc = 0
    for text in addresses:
        va = parse_address(text)
        label = label_address(layout, untag(va))
        try:
            if is_linear(info, untag(va)):
                pa, how = vtop_linear(info, va), "linear map"
            else:
                pa, how = kimage_vtop(info, va), "kernel image"
        except (ValueError, InputError) as exc:
            pa, how, rc = None, str(exc), 1
        if as_json:
            click.echo(json.dumps({"va": f"{va:#x}", "pa": None if pa is None else f"{pa:#x}", "how": how,
                                   "label": label}))
        else:
            click.echo(f"{va:#018x} -> " + (f"PA {pa:#x} ({how}" if pa is not None else f"no PA ({how}")
                       + (f", {label})" if label and label != how else ")"))
    return rc


@click.command()
@click.argument("dump")
@click.argument("addresses", nargs=-1, required=True, metavar="PA...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per address.")
def ptov(dump, addresses, as_json):
    """PA -> its linear-map VA (and kernel-image VA when the image covers it)."""
    import json

    from ..linux import kernel_layout, kimage_ptov, label_address, ptov_linear
    from .common import parse_address

    info = _info(dump)
    layout = kernel_layout(info)
    for text in addresses:
        pa = parse_address(text)
        out = {"pa": f"{pa:#x}", "linear": None, "kimage": None}
        try:
            out["linear"] = f"{ptov_linear(info, pa):#x}"
        except ValueError:
            pass
        try:
            kva = kimage_ptov(info, pa)
            if label_address(layout, kva) == "kernel image":
                out["kimage"] = f"{kva:#x}"
        except ValueError:
            pass
        if as_json:
            click.echo(json.dumps(out))
        else:
            parts = [f"linear map {out['linear']}" if out["linear"] else "not in the linear map"]
            if out["kimage"]:
                parts.append(f"kernel image {out['kimage']}")
            click.echo(f"{pa:#x} -> " + ", ".join(parts))
    return 0
