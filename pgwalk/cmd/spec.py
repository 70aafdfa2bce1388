"""A command's parameters stated once, and read two ways, for the commands that must start fast.

click's import is most of a short command's start-up (about 130M instructions, more than
Python's own start-up twice over).  A command declared here as a :class:`Command` is read:

* by click, through :meth:`Command.click_command`, for everything click does well: help,
  shell completion, and the error message of a command line it refuses;
* by :meth:`Command.parse_plain`, which reads the plain command lines (declared options and
  arguments, each value where click would take it) with no click at all, and gives up (returns
  None, and click reads the line) on anything else: ``--help``, ``--``, an unknown option, a
  value that looks like an option, a missing argument, a value click would refuse.

So a command line :meth:`Command.parse_plain` accepts gets exactly the values click would give
(a test compares the two over many command lines), and every other line gets click's behaviour.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable

__all__ = ["Argument", "Option", "Command"]


class Argument:
    """A positional argument: ``click.argument(name, required=...)``."""

    __slots__ = ("name", "required")

    def __init__(self, name: str, *, required: bool = True) -> None:
        self.name = name
        self.required = required

    def click_decorator(self) -> Callable:
        import click

        return click.argument(self.name, required=self.required)


class Option:
    """An option: ``click.option(*decls, ...)``.

    ``decls`` are the option's strings (``"--json"``) and, optionally, its parameter's name
    (``"as_json"``); else the name is click's: the first ``--`` string, dashes to underscores.
    Its value is a string unless ``is_flag`` (True when given), ``choices`` (one of them, matched
    without case when not ``case_sensitive``; the choice as declared is the value) or
    ``int_range`` (an int from ``lo`` to ``hi``, both included).  ``multiple``: a tuple of each
    value given.  Anything else (``help``, ``metavar``, ``show_default``) is for click only.
    """

    __slots__ = ("flags", "name", "is_flag", "choices", "case_sensitive", "int_range", "default", "multiple",
                 "extra")

    def __init__(self, *decls: str, is_flag: bool = False, choices: tuple[str, ...] | None = None,
                 case_sensitive: bool = True, int_range: tuple[int, int] | None = None, default: Any = None,
                 multiple: bool = False, **extra: Any) -> None:
        self.flags = tuple(d for d in decls if d.startswith("-"))
        names = [d for d in decls if not d.startswith("-")]
        longs = [f for f in self.flags if f.startswith("--")] or list(self.flags)
        self.name = names[0] if names else longs[0].lstrip("-").replace("-", "_").lower()
        self.is_flag = is_flag
        self.choices = choices
        self.case_sensitive = case_sensitive
        self.int_range = int_range
        self.default = False if is_flag and default is None else default
        self.multiple = multiple
        self.extra = extra

    def click_decorator(self) -> Callable:
        import click

        kwargs = dict(self.extra)
        if self.is_flag:
            kwargs["is_flag"] = True
        elif self.choices is not None:
            kwargs["type"] = click.Choice(list(self.choices), case_sensitive=self.case_sensitive)
        elif self.int_range is not None:
            kwargs["type"] = click.IntRange(*self.int_range)
        if self.default is not None and not self.is_flag:
            kwargs["default"] = self.default
        if self.multiple:
            kwargs["multiple"] = True
        return click.option(*self.flags, self.name, **kwargs)

    def convert(self, text: str) -> Any:
        """The value click gives for ``text``, or :data:`_REFUSED` where click would refuse it."""
        if self.choices is not None:
            if text in self.choices:
                return text
            if not self.case_sensitive:
                for choice in self.choices:
                    if choice.casefold() == text.casefold():
                        return choice
            return _REFUSED
        if self.int_range is not None:
            try:
                value = int(text)               # (as click's INT type converts a string)
            except ValueError:
                return _REFUSED
            lo, hi = self.int_range
            return value if lo <= value <= hi else _REFUSED
        return text


#: a value click would refuse (the command line then goes to click, which says why)
_REFUSED = object()


class Command:
    """A command: its name, its parameters, and ``run(**values)``, which returns the exit status.

    ``run``'s docstring is the command's help, as a click command's function's is.
    """

    __slots__ = ("name", "params", "run")

    def __init__(self, name: str, run: Callable[..., int], params: tuple[Argument | Option, ...]) -> None:
        self.name = name
        self.run = run
        self.params = params

    def click_command(self) -> Any:
        """The command as a click command: the same parameters; a non-zero status ``run``
        returns ends the command with it (``ctx.exit``), as under click's own ``main``."""
        import click

        run = self.run

        def command(**values: Any) -> int:
            status = run(**values)
            if status:
                click.get_current_context().exit(status)
            return status

        command.__doc__ = run.__doc__
        command.__name__ = run.__name__
        for param in reversed(self.params):
            command = param.click_decorator()(command)
        return click.command(self.name)(command)

    def parse_plain(self, args: list[str]) -> dict[str, Any] | None:
        """The values click would give for ``args``, or None when this line is not a plain one
        (see the module's docstring): click must read it."""
        options = {flag: p for p in self.params if isinstance(p, Option) for flag in p.flags}
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
            option = options.get(flag)
            if option is None or (eq and not flag.startswith("--")):
                return None                     # --help, --, an unknown option, -x=...
            if option.is_flag:
                if eq:
                    return None
                values[option.name] = True
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
        if len(given) > len(positional):
            return None
        for param, text in zip(positional, given):
            values[param.name] = text
        for param in positional[len(given):]:
            if param.required:
                return None
            values[param.name] = None
        for param in self.params:
            if isinstance(param, Option):
                if param.multiple:
                    values[param.name] = tuple(values.get(param.name, ()))
                else:
                    values.setdefault(param.name, param.default)
        return values
