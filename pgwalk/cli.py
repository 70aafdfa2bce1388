"""The ``pgwalk`` command line: thin, lazy.

Only click and :mod:`pgwalk.errors` (which imports nothing) are imported
here.  Each subcommand lives in ``pgwalk.cmd.<name>`` and is imported when
it runs (click's "lazily loading subcommands"), so ``pgwalk decode-esr``
never pays for numpy or the walker.

Exit status: 0 success, 1 a translation faulted / a comparison mismatched,
2 bad input (one line on stderr, no traceback unless ``--debug``), 130 interrupted
(Ctrl-C: one line on stderr, at any moment), 141 the reader of the output went
away (``| head``: no message; 128 + SIGPIPE, the status the shell shows for a tool
the pipe killed, such as ``cat``; the output is incomplete, so it is not 0).
The console script is :func:`pgwalk.__main__.run`.
"""

from __future__ import annotations

import importlib.util     # (binds importlib; the submodule is not bound by `import importlib` alone)
import os
import sys

import click

from .errors import PgwalkError

__all__ = ["main", "cli", "EXIT_OK", "EXIT_FAULT", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE",
           "interrupted", "COMPLETE_VAR"]

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
#: 128 + SIGINT
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE
EXIT_BROKEN_PIPE = 141


class _BrokenPipe(BaseException):
    """The reader of stdout went away, carried past click and rich (which exit with status 1)."""

#: command name -> "module:attribute"
COMMANDS = {
    "translate": "pgwalk.cmd.translate:translate",
    "at": "pgwalk.cmd.at:at",
    "dump-tree": "pgwalk.cmd.dump_tree:dump_tree",
    "decode-esr": "pgwalk.cmd.decode_esr:decode_esr",
    "decode": "pgwalk.cmd.decode_esr:decode",
    "info": "pgwalk.cmd.info:info",
    "vtop": "pgwalk.cmd.linux:vtop",
    "ptov": "pgwalk.cmd.linux:ptov",
    "read": "pgwalk.cmd.read:read",
    "schema": "pgwalk.cmd.schema:schema",
}


class BadInput(click.ClickException):
    """One-line error, exit status 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:
        click.echo(f"pgwalk: error: {self.format_message()}", err=True)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None or not self._available(name):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):     # where it was (a slow or stuck step)
                import traceback

                traceback.print_exc()
            raise
        except BrokenPipeError:
            raise _BrokenPipe() from None
        except SystemExit as exc:
            if isinstance(exc.__context__, BrokenPipeError):    # rich's Console.on_broken_pipe
                raise _BrokenPipe() from None
            raise
        except PgwalkError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise BadInput(str(exc)) from None
        except (OSError, MemoryError, RecursionError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if isinstance(exc, OSError) and exc.filename is not None:     # a file no caller named better
                from .inputs import os_error_text

                raise BadInput(os_error_text(str(exc.filename), exc)) from None
            raise BadInput(f"{type(exc).__name__}: {exc}") from None


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

    from . import __version__

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


#: click's shell-completion request (``_PGWALK_COMPLETE=bash_source pgwalk``), which click's own
#: ``main`` serves
COMPLETE_VAR = "_PGWALK_COMPLETE"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (for tests and the console script).

    The command line is parsed and run here (``make_context``, ``invoke``), not through click's
    ``main``, except for a shell-completion request: click's ``main`` answers a Ctrl-C that lands
    in its own steps (entering or closing the context) with a blank line on stderr before ours.
    """
    args = sys.argv[1:] if argv is None else list(argv)
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
        click.echo(f"pgwalk: error: {exc.format_message()} (see '{where} --help')", err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return interrupted()
    except (_BrokenPipe, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    return rv if isinstance(rv, int) else EXIT_OK


def interrupted() -> int:
    """Ctrl-C: say so in one line and return :data:`EXIT_INTERRUPTED`."""
    try:
        sys.stderr.write("pgwalk: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
