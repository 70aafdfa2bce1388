"""Each command's parameters stated once, and read two ways: by click, and without click.

click's import is most of a short command's start-up (about 130M instructions, more than
Python's own start-up twice over).  Every command is declared here as a :class:`Command`
(:data:`pgwalk.cmd.registry.COMMANDS`), and read:

* by click, through :meth:`Command.click_command`, for everything click does well: help,
  shell completion, and the error message of a command line it refuses;
* by :meth:`Command.parse_plain`, which reads the plain command lines (declared options and
  arguments, each value where click would take it) with no click at all, and gives up (returns
  None, and click reads the line) on anything else: ``--help``, ``--``, an unknown option, a
  value that looks like an option, a missing argument, a value click would refuse, an option
  whose callback needs click (``--gdb``), a usage error of the command's ``prepare``.

So a command line :meth:`Command.parse_plain` accepts gets exactly the values click would give
(a test compares the two over many command lines), and every other line gets click's behaviour.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable

__all__ = ["Argument", "Option", "Command", "Usage"]


class Argument:
    """A positional argument: ``click.argument(name, required=..., nargs=..., metavar=...)``.

    ``nargs=-1``: every positional token left (a tuple; only the last argument may take them);
    ``required`` None: click's default (required unless ``nargs=-1``).
    """

    __slots__ = ("name", "required", "nargs", "metavar")

    def __init__(self, name: str, *, required: bool | None = None, nargs: int = 1, metavar: str | None = None) -> None:
        self.name = name
        self.required = (nargs > 0) if required is None else required
        self.nargs = nargs
        self.metavar = metavar

    def click_decorator(self) -> Callable:
        import click

        kwargs: dict[str, Any] = {"required": self.required}
        if self.nargs != 1:
            kwargs["nargs"] = self.nargs
        if self.metavar is not None:
            kwargs["metavar"] = self.metavar
        return click.argument(self.name, **kwargs)


class Option:
    """An option: ``click.option(*decls, ...)``.

    ``decls`` are the option's strings (``"--json"``; ``"--pan/--no-pan"``, a flag with its off
    switch) and, optionally, its parameter's name (``"as_json"``); else the name is click's: the
    first ``--`` string, dashes to underscores.  Its value is a string unless ``is_flag`` (True
    when given; False for the off switch), ``choices`` (one of them, matched without case when not
    ``case_sensitive``; the choice as declared is the value), ``integer`` (an int) or ``int_range``
    (an int from ``lo`` to ``hi``, both included; None: no bound).  ``path``: a file name (click's
    ``Path``, which completes file names; ``allow_dash``: ``-`` too).  ``multiple``: a tuple of
    each value given.

    ``plain``: False for an option whose line click must read (one with a callback that needs
    click's context); ``plain_convert``: the value of an option with a callback, for a plain line
    (raises ValueError for a value the callback would refuse or act on: click then reads the
    line).  Anything else (``help``, ``metavar``, ``show_default``, ``callback``, ``is_eager``,
    ``shell_complete``, ``expose_value``) is for click only.
    """

    __slots__ = ("flags", "off_flags", "name", "is_flag", "choices", "case_sensitive", "integer", "int_range",
                 "path", "allow_dash", "default", "multiple", "plain", "plain_convert", "exposed", "extra")

    def __init__(self, *decls: str, is_flag: bool = False, choices: tuple[str, ...] | None = None,
                 case_sensitive: bool = True, integer: bool = False,
                 int_range: tuple[int | None, int | None] | None = None,
                 path: bool = False, allow_dash: bool = False, default: Any = None, multiple: bool = False,
                 plain: bool = True, plain_convert: Callable[[str], Any] | None = None, **extra: Any) -> None:
        self.flags = tuple(d.split("/")[0] for d in decls if d.startswith("-"))
        self.off_flags = tuple(d.split("/", 1)[1] for d in decls if d.startswith("-") and "/" in d)
        names = [d for d in decls if not d.startswith("-")]
        longs = [f for f in self.flags if f.startswith("--")] or list(self.flags)
        self.name = names[0] if names else longs[0].lstrip("-").replace("-", "_").lower()
        self.is_flag = is_flag or bool(self.off_flags)
        self.choices = choices
        self.case_sensitive = case_sensitive
        self.integer = integer
        self.int_range = int_range
        self.path = path
        self.allow_dash = allow_dash
        self.default = False if is_flag and default is None and not self.off_flags else default
        self.multiple = multiple
        self.plain = plain
        self.plain_convert = plain_convert
        self.exposed = extra.get("expose_value", True)
        self.extra = extra

    def click_decorator(self) -> Callable:
        import click

        kwargs = dict(self.extra)
        if self.is_flag and not self.off_flags:
            kwargs["is_flag"] = True
        elif self.choices is not None:
            kwargs["type"] = click.Choice(list(self.choices), case_sensitive=self.case_sensitive)
        elif self.int_range is not None:
            kwargs["type"] = click.IntRange(*self.int_range)
        elif self.integer:
            kwargs["type"] = int
        elif self.path:
            kwargs["type"] = click.Path(readable=False, allow_dash=self.allow_dash)
        if self.default is not None and not (self.is_flag and not self.off_flags):
            kwargs["default"] = self.default
        elif self.off_flags:
            kwargs["default"] = None
        if self.multiple:
            kwargs["multiple"] = True
        decls = [f + "/" + off for f, off in zip(self.flags, self.off_flags)] or list(self.flags)
        return click.option(*decls, self.name, **kwargs)

    def convert(self, text: str) -> Any:
        """The value click gives for ``text``, or :data:`_REFUSED` where click would refuse it."""
        if self.plain_convert is not None:
            try:
                return self.plain_convert(text)
            except ValueError:
                return _REFUSED
        if self.choices is not None:
            if text in self.choices:
                return text
            if not self.case_sensitive:
                for choice in self.choices:
                    if choice.casefold() == text.casefold():
                        return choice
            return _REFUSED
        if self.int_range is not None or self.integer:
            try:
                value = int(text)               # (as click's INT type converts a string)
            except ValueError:
                return _REFUSED
            lo, hi = self.int_range or (None, None)
            return value if (lo is None or lo <= value) and (hi is None or value <= hi) else _REFUSED
        return text


class Usage(Exception):
    """A command line the parameters allow but the command refuses as a usage error (click's
    ``UsageError``; a plain line that raises it goes to click, which says so)."""


#: a value click would refuse (the command line then goes to click, which says why)
_REFUSED = object()


class Command:
    """A command: its name, its parameters, and ``run(**values)``, which returns the exit status.

    ``run``'s docstring is the command's help, as a click command's function's is.  ``prepare``,
    if given, turns the parameters' values into ``run``'s arguments, or raises :class:`Usage`.
    """

    __slots__ = ("name", "params", "run", "prepare", "_click")

    def __init__(self, name: str, run: Callable[..., int], params: tuple[Argument | Option, ...],
                 prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.name = name
        self.run = run
        self.params = params
        self.prepare = prepare
        self._click = None

    def click_command(self) -> Any:
        """The command as a click command (made once): the same parameters; a non-zero status
        ``run`` returns ends the command with it (``ctx.exit``), as under click's own ``main``."""
        if self._click is None:
            self._click = self._make_click_command()
        return self._click

    def _make_click_command(self) -> Any:
        import click

        run, prepare = self.run, self.prepare

        def command(**values: Any) -> int:
            if prepare is not None:
                try:
                    values = prepare(values)
                except Usage as exc:
                    raise click.UsageError(str(exc)) from None
            status = run(**values)
            if status:
                click.get_current_context().exit(status)
            return status

        command.__doc__ = run.__doc__
        command.__name__ = run.__name__
        for param in reversed(self.params):
            command = param.click_decorator()(command)
        return click.command(self.name)(command)

    def plain_arguments(self, args: list[str]) -> dict[str, Any] | None:
        """``run``'s arguments for a plain line (:meth:`parse_plain`, then ``prepare``), or None:
        click must read the line."""
        values = self.parse_plain(args)
        if values is None or self.prepare is None:
            return values
        try:
            return self.prepare(values)
        except Usage:
            return None

    def parse_plain(self, args: list[str]) -> dict[str, Any] | None:
        """The values click would give for ``args``, or None when this line is not a plain one
        (see the module's docstring): click must read it."""
        options: dict[str, tuple[Option, bool]] = {}
        for p in self.params:
            if isinstance(p, Option):
                options.update((flag, (p, True)) for flag in p.flags)
                options.update((flag, (p, False)) for flag in p.off_flags)
        positional = [p for p in self.params if isinstance(p, Argument)]
        values: dict[str, Any] = {}
        given: list[str] = []
        i = 0
        while i < len(args):
            token = args[i]
            i += 1
            if token == "-" or not token.startswith("-"):
                given.append(token)
                continue
            flag, eq, text = token.partition("=")
            option, on = options.get(flag, (None, True))
            if option is None or not option.plain or (eq and not flag.startswith("--")):
                return None                     # --help, --, an unknown option, -x=..., one click must read
            if option.is_flag:
                if eq:
                    return None
                values[option.name] = on
                continue
            if not eq:
                if i == len(args) or (args[i].startswith("-") and args[i] != "-"):
                    return None                 # no value, or one click may read otherwise
                text = args[i]
                i += 1
            value = option.convert(text)
            if value is _REFUSED:
                return None
            if option.multiple:
                values.setdefault(option.name, []).append(value)
            else:
                values[option.name] = value
        for param in positional:
            if param.nargs < 0:                 # (the last argument: every token left)
                if param.required and not given:
                    return None
                values[param.name] = tuple(given)
                given = []
            elif given:
                values[param.name] = given.pop(0)
            elif param.required:
                return None
            else:
                values[param.name] = None
        if given:
            return None                         # more arguments than the command takes
        for param in self.params:
            if isinstance(param, Option) and param.exposed:
                if param.multiple:
                    values[param.name] = tuple(values.get(param.name, ()))
                else:
                    values.setdefault(param.name, param.default)
        return values
