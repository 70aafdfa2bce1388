"""click's side of the ``pgwalk`` command line: the command group, its lazily loaded commands, and
the run of a command line through click (every line :mod:`pgwalk.cli` does not run plainly: see
:mod:`pgwalk.cmd.spec`).

Only click and :mod:`pgwalk.cmd.registry` are imported here.  Each subcommand lives in
``pgwalk.cmd.<name>`` and is imported when it runs (click's "lazily loading subcommands").
"""

from __future__ import annotations

import os

import click

from .registry import COMMANDS, COMPLETE_VAR, EXIT_BAD_INPUT, EXIT_OK, BrokenPipe, bad_input_text, error_line, load

__all__ = ["cli", "run", "BadInput", "LazyGroup"]


class BadInput(click.ClickException):
    """One-line error, exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(error_line(self.format_message()), err=True, nl=False)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        from importlib.util import find_spec       # (only for the list: 5M instructions)

        return find_spec(COMMANDS[name].split(":")[0]) is not None

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        try:
            return load(target).click_command()
        except ModuleNotFoundError as exc:
            if exc.name != target.split(":")[0]:               # a module it imports is missing: a bug
                raise
            return None

    def invoke(self, ctx):
        def debug() -> bool:                         # (--debug: known once the group's callback ran)
            return bool(ctx.obj and ctx.obj.get("debug"))

        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if debug():                              # where it was (a slow or stuck step)
                import traceback

                traceback.print_exc()
            raise
        except BrokenPipeError:
            raise BrokenPipe() from None
        except SystemExit as exc:
            if isinstance(exc.__context__, BrokenPipeError):    # rich's Console.on_broken_pipe
                raise BrokenPipe() from None
            raise
        except Exception as exc:
            text = None if debug() else bad_input_text(exc)
            if text is None:
                raise
            raise BadInput(text) from None


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: pgwalk's version and those of what it runs on (for bug reports), then exit."""
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib import metadata, util

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    from .. import __version__

    click.echo(f"pgwalk {__version__}")
    click.echo(f"Python {platform.python_version()}, " + ", ".join(
        f"{d} {version(d)}" for d in ("click", "rich", "construct", "numpy")))
    have = ["zlib"] + [name for name, module in (("zstd", "zstandard"), ("lzo", "lzokay"), ("snappy", "cramjam"))
                       if util.find_spec(module) is not None]
    missing = 4 - len(have)
    click.echo("kdump decompressors: " + ", ".join(have)
               + (f" ({missing} missing: pip install 'pgwalk[kdump]')" if missing else ""))
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.option("--color", "--colour", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour in text output (auto: on a terminal, unless NO_COLOR is set).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the versions of pgwalk, Python and the libraries it uses, and exit.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, color: str) -> None:
    """AArch64 page-table forensics over memory images and crash dumps.

    Records go to stdout and notes to stderr (as "pgwalk: note: ...").  In a
    pipe or a file the text output is plain: one record per line, no boxes, no
    wrapping.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["color"] = color


def run(args: list[str]) -> int:
    """Parse and run ``args`` through click; returns the exit status.  KeyboardInterrupt and
    :class:`~pgwalk.cmd.registry.BrokenPipe` (or BrokenPipeError) go to the caller.

    The command line is parsed and run here (``make_context``, ``invoke``), not through click's
    ``main``, except for a shell-completion request: click's ``main`` answers a Ctrl-C that lands
    in its own steps (entering or closing the context) with a blank line on stderr before ours.
    """
    try:
        if os.environ.get(COMPLETE_VAR):
            rv = cli.main(args=args, prog_name="pgwalk", standalone_mode=False)
        else:
            with cli.make_context("pgwalk", args) as ctx:
                rv = cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
            exc.show()                            # bare "pgwalk": the help text
            return exc.exit_code
        # one line, as for every other bad input
        where = exc.ctx.command_path if exc.ctx is not None else "pgwalk"
        click.echo(error_line(f"{exc.format_message()} (see '{where} --help')"), err=True, nl=False)
        return EXIT_BAD_INPUT
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return rv if isinstance(rv, int) else EXIT_OK
