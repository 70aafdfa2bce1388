"""Dataclasses defined with little or no source compiled at import: :func:`record`.

``dataclasses.dataclass`` writes the source of each method it adds (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, and a frozen class's ``__setattr__`` and
``__delattr__``) and compiles it, every time a process defines the class.  For pgwalk's
parameter classes (up to 34 fields) that is 1-3.5 ms a class here: the classes of
:mod:`pgwalk.params` alone took 9 ms of a one-address ``pgwalk translate``'s 80, and the
frozen methods of the 17 frozen classes ``translate`` defines another 3 ms.

:func:`record` finds the fields as dataclasses does (annotations in order, bases' fields
first, a class attribute or a :func:`field` giving the default and settings; ClassVar left
out), makes ``__slots__`` and ``__match_args__`` as dataclasses does, and adds the methods
as closures over the fields, which are made without compiling anything: ``__repr__``,
``__eq__``, ``__hash__``, a frozen class's ``__setattr__`` / ``__delattr__`` (and, slotted,
the ``__getstate__`` / ``__setstate__`` that copy and pickle need).  They behave as the
generated ones: the same arguments, defaults and errors for ``__init__``, equality of two
instances of the same class by their ``compare`` fields, a hash of those fields for a frozen
class (and none for a mutable one), the same repr, :class:`dataclasses.FrozenInstanceError`.
Nor is :mod:`dataclasses` imported (with :mod:`inspect`, about twice Python's own start-up)
until something asks a record for its ``__dataclass_fields__`` or ``__dataclass_params__``:
they are made then, by dataclasses, so ``dataclasses.fields``, ``replace``, ``asdict`` and
``is_dataclass`` work as for any dataclass, and a dataclass subclass of a frozen record is
frozen as it must be.

The one difference is speed: the closure ``__init__`` binds its arguments in a loop, a few
microseconds for 30 fields.  So a class made once per address or item (the walk's results,
table and run records, AT results) asks for a compiled ``__init__`` (``compiled_init=True``,
several times faster to call): one assignment a field, compiled from source as dataclasses
compiles its own; the classes made a few times a run (parameters, setups, summaries,
sessions) take the closure.  ``inspect.signature`` of a closure ``__init__`` shows
``(*args, **kwargs)``: the fields say what it takes.  Every dataclass of pgwalk is declared
with :func:`record`.

Two of typing's constructs are made here too, without importing typing (about a tenth of a
one-address ``translate``): :func:`named_tuple`, the class ``typing.NamedTuple`` makes (which
compiles each string annotation), and :class:`Protocol` with :func:`runtime_checkable`, the
``isinstance`` and ``issubclass`` of a protocol (modules import typing's under
``TYPE_CHECKING``, for type checkers).
"""

from __future__ import annotations

import reprlib
import sys
from operator import attrgetter
from types import MemberDescriptorType

TYPE_CHECKING = False
if TYPE_CHECKING:                       # (typing is not imported at run time: start-up)
    from typing import Any, Callable, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:
    def dataclass_transform(**_kwargs):     # (it only tells type checkers)
        return lambda f: f

__all__ = ["record", "field", "replace", "MISSING", "named_tuple", "Protocol", "runtime_checkable"]


class _Missing:
    """No default (dataclasses.MISSING's part in a record's own fields)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """What :func:`field` says of one field (and what a record keeps of each: its name and its
    annotation, and dataclasses.Field's settings).  The classes' ``__dataclass_fields__`` hold real
    :class:`dataclasses.Field` objects, made from these when first asked for."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "hash", "compare", "metadata")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
                 repr: bool = True, hash: bool | None = None, compare: bool = True, metadata: Any = None) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name: str = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.hash = hash
        self.compare = compare
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def field(*, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True, repr: bool = True,
          hash: bool | None = None, compare: bool = True, metadata: Any = None) -> Any:
    """``dataclasses.field`` for a :func:`record` (the same arguments, but ``kw_only``), without
    importing dataclasses."""
    return Field(default, default_factory, init, repr, hash, compare, metadata)


def replace(obj: Any, /, **changes: Any) -> Any:
    """``dataclasses.replace`` for a record (the same new object, the same errors), without
    dataclasses: a new instance with the ``init`` fields of ``obj`` but those ``changes`` gives."""
    fields = getattr(type(obj), "__record_fields__", None)
    if fields is None:
        raise TypeError("replace() should be called on dataclass instances")
    for f in fields:
        if not f.init:
            if f.name in changes:                # (dataclasses raises ValueError before Python 3.13)
                raise (TypeError if sys.version_info >= (3, 13) else ValueError)(
                    f"field {f.name} is declared with init=False, it cannot be specified with replace()")
        elif f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return obj.__class__(**changes)


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: type[_T] | None = None, /, *, frozen: bool = False, slots: bool = False, eq: bool = True,
           compiled_init: bool = False) -> Any:
    """``@dataclass(frozen=..., slots=..., eq=...)``, its ``__init__`` (unless ``compiled_init``:
    then compiled, one statement a field), ``__repr__``, ``__eq__`` and ``__hash__`` (with ``eq``;
    without, the identity of ``object``, as a dataclass's) and a frozen class's ``__setattr__`` and
    ``__delattr__`` made without compiling source (see the module's docstring)."""

    def wrap(c: type[_T]) -> type[_T]:
        return _make(c, frozen, slots, eq, compiled_init)

    return wrap if cls is None else wrap(cls)


def _make(cls: type[_T], frozen: bool, slots: bool, eq: bool, compiled_init: bool) -> type[_T]:
    # (as dataclasses does, a method the class body defines is kept; a body that defines __eq__
    # and not __hash__ has __hash__ None from Python, which is not an explicit one)
    own = {name for name in ("__init__", "__repr__", "__eq__") if name in cls.__dict__}
    if "__hash__" in cls.__dict__ and not (cls.__dict__["__hash__"] is None and "__eq__" in own):
        own.add("__hash__")
    if frozen and ("__setattr__" in cls.__dict__ or "__delattr__" in cls.__dict__):
        raise TypeError(f"Cannot overwrite attribute __setattr__ or __delattr__ in class {cls.__name__}")
    fields = _collect_fields(cls)
    cls.__record_fields__ = fields                                            # type: ignore[attr-defined]
    cls.__record_frozen__ = frozen                                            # type: ignore[attr-defined]
    for attr in ("__dataclass_fields__", "__dataclass_params__"):
        setattr(cls, attr, _DataclassView(attr))
    if "__match_args__" not in cls.__dict__:
        cls.__match_args__ = tuple(f.name for f in fields if f.init)          # type: ignore[attr-defined]
    if slots:
        cls = _slotted(cls, fields)
    if "__init__" not in own:
        make_init = _compiled_init if compiled_init else _init
        cls.__init__ = make_init(cls, fields, frozen)                         # type: ignore[misc]
    if frozen:
        _freeze(cls, fields, slots)
    for name, method in _methods(fields, frozen).items():
        if name not in own and (eq or name == "__repr__"):
            setattr(cls, name, method)
    return cls


#: what a NamedTuple's class body may not define (typing's rule)
_NAMEDTUPLE_OWN = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})


def named_tuple(cls: type[_T]) -> type[_T]:
    """The class ``class X(typing.NamedTuple)`` with the body of ``cls`` makes, made without typing.

    The fields are the body's annotations in order, a class attribute a field's default; the
    methods, properties and docstring are set on the ``collections.namedtuple`` class, as
    typing does.  typing.NamedTuple turns each annotation that is a string (every one, under
    ``from __future__ import annotations``) into a ForwardRef, which compiles it: the first
    ``compile()`` of a process alone costs as much as a tenth of a one-address ``translate``.
    """
    from collections import namedtuple

    own = cls.__dict__
    annotations = own.get("__annotations__")
    if annotations is None:                  # (3.14, without the __future__ import: made on request)
        annotations = cls.__annotations__ if "__annotate__" in own else {}
    names = tuple(annotations)
    defaults = [own[name] for name in names if name in own]
    for name in names[len(names) - len(defaults):]:
        if name not in own:
            raise TypeError(f"Non-default namedtuple field {name} cannot follow default field(s)")
    made = namedtuple(cls.__name__, names, defaults=defaults, module=cls.__module__)
    made.__annotations__ = dict(annotations)
    made.__qualname__ = cls.__qualname__
    for key, value in own.items():
        if key in _NAMEDTUPLE_OWN:
            raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
        if key == "__doc__" and value is None:
            continue                         # (no docstring: namedtuple's own, "X(a, b)")
        if key not in annotations and key not in ("__module__", "__annotations__", "__annotate__", "__dict__",
                                                  "__weakref__", "__qualname__", "__firstlineno__",
                                                  "__static_attributes__"):
            setattr(made, key, value)
    return made


#: names a class has for its own machinery, not protocol members (typing's list, as far as they occur)
_NOT_MEMBERS = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__",
                          "__annotate__", "__firstlineno__", "__static_attributes__", "__slots__", "__init__",
                          "__new__", "__init_subclass__", "__subclasshook__", "__abstractmethods__",
                          "__protocol_members__", "__runtime_protocol__"})


class _ProtocolMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        if type.__instancecheck__(cls, obj):          # (a class that names the protocol as its base)
            return True
        if not cls.__dict__.get("__runtime_protocol__"):
            raise TypeError("Instance and class checks can only be used with @runtime_checkable protocols")
        return all(hasattr(obj, name) for name in cls.__protocol_members__)

    def __subclasscheck__(cls, other: type) -> bool:
        if type.__subclasscheck__(cls, other):
            return True
        if not cls.__dict__.get("__runtime_protocol__"):
            raise TypeError("Instance and class checks can only be used with @runtime_checkable protocols")
        if not all(callable(getattr(cls, name, None)) for name in cls.__protocol_members__):
            raise TypeError("Protocols with non-method members don't support issubclass()")
        return all(any(name in base.__dict__ for base in other.__mro__) for name in cls.__protocol_members__)


class Protocol(metaclass=_ProtocolMeta):
    """``typing.Protocol`` as far as a program runs into it, without typing: a protocol class is
    a written contract, and ``isinstance(obj, P)`` of a :func:`runtime_checkable` one is true when
    ``obj`` has every member ``P`` states (its methods, properties and annotated attributes, its
    bases' too), as typing checks it.  Modules state ``if TYPE_CHECKING: from typing import
    Protocol, runtime_checkable`` so that type checkers see typing's (typing's import is a tenth
    of a short command's start-up)."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        members: set[str] = set()
        for base in cls.__mro__[:-1]:
            if base is not Protocol:
                members.update(name for name in base.__dict__ if name not in _NOT_MEMBERS)
                members.update(base.__dict__.get("__annotations__", ()))
        cls.__protocol_members__ = tuple(sorted(members))


def runtime_checkable(cls: type[_T]) -> type[_T]:
    """``typing.runtime_checkable`` for a :class:`Protocol` class: ``isinstance`` may ask it."""
    cls.__runtime_protocol__ = True
    return cls


def _collect_fields(cls: type) -> tuple[Field, ...]:
    """The fields of ``cls`` as dataclasses finds them: its bases' (the last base's first), then its
    own annotations in order (one already inherited keeps its place); a class attribute is the
    default, or a :func:`field` (or ``dataclasses.field``) gives the settings."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            found[f.name] = f
        if "__record_fields__" not in base.__dict__ and "__dataclass_fields__" in base.__dict__:
            raise TypeError(f"record {cls.__qualname__}: base {base.__qualname__} is a dataclass, not a record")
    annotations = cls.__dict__.get("__annotations__")
    if annotations is None:                  # (3.14, without the __future__ import: made on request)
        annotations = cls.__annotations__ if "__annotate__" in cls.__dict__ else {}
    for name, annotation in annotations.items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
        if text == "ClassVar" or text.startswith(("ClassVar[", "typing.ClassVar")):
            continue
        if text.startswith(("InitVar", "dataclasses.InitVar", "KW_ONLY", "dataclasses.KW_ONLY")):
            raise TypeError(f"record {cls.__qualname__}.{name}: InitVar and KW_ONLY are not supported")
        value = cls.__dict__.get(name, MISSING)
        given = _as_field(value)
        if given is None:
            f = Field(default=value)
        else:
            f = given
            if f.default is MISSING:
                delattr(cls, name)                   # (a field() without a default: no class attribute)
            else:
                setattr(cls, name, f.default)
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: "
                             "use default_factory")
        f.name, f.type = name, annotation
        found[name] = f
    for name, value in cls.__dict__.items():
        if name not in annotations and _as_field(value) is not None:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    return tuple(found.values())


def _as_field(value: Any) -> Field | None:
    """``value`` as a record's :class:`Field` when it says a field's settings (:func:`field`, or
    ``dataclasses.field``: copied), else None."""
    if type(value) is Field:
        return value
    dataclasses = sys.modules.get("dataclasses")     # (no dataclasses loaded: no dataclasses.Field)
    if dataclasses is None or not isinstance(value, dataclasses.Field):
        return None
    def own(v: Any) -> Any:
        return MISSING if v is dataclasses.MISSING else v
    return Field(own(value.default), own(value.default_factory), value.init, value.repr, value.hash,
                 value.compare, value.metadata)


def _slotted(cls: type, fields: tuple[Field, ...]) -> type:
    """``cls`` made again with ``__slots__`` for its fields (as ``@dataclass(slots=True)`` does)."""
    inherited: set[str] = set()
    for base in cls.__mro__[1:-1]:
        declared = base.__dict__.get("__slots__", ())
        inherited.update((declared,) if isinstance(declared, str) else declared)
    body = dict(cls.__dict__)
    body["__slots__"] = tuple(f.name for f in fields if f.name not in inherited)
    for f in fields:
        body.pop(f.name, None)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    made = type(cls)(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    return made


class _DataclassView:
    """``__dataclass_fields__`` / ``__dataclass_params__`` of a record, made (with dataclasses) when
    first asked for: ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` work on a
    record as on any dataclass, and a process that never asks does not import dataclasses."""

    __slots__ = ("attr",)

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: Any, cls: type) -> Any:
        fields, params = _dataclass_view(cls)
        cls.__dataclass_fields__ = fields                                     # type: ignore[attr-defined]
        cls.__dataclass_params__ = params                                     # type: ignore[attr-defined]
        return fields if self.attr == "__dataclass_fields__" else params


def _dataclass_view(cls: type) -> tuple[dict, Any]:
    """The ``__dataclass_fields__`` and ``__dataclass_params__`` dataclasses gives a class with
    ``cls``'s fields (made on a stand-in class: init, repr and eq are the record's own, so they say
    False, as ``@dataclass(init=False, repr=False, eq=False)``; frozen as the record)."""
    import copy
    import dataclasses

    def theirs(v: Any) -> Any:
        return dataclasses.MISSING if v is MISSING else v

    body: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                            "__annotations__": {f.name: f.type for f in cls.__record_fields__}}
    for f in cls.__record_fields__:                                           # type: ignore[attr-defined]
        body[f.name] = dataclasses.field(default=theirs(f.default), default_factory=theirs(f.default_factory),
                                         init=f.init, repr=f.repr, hash=f.hash, compare=f.compare,
                                         metadata=f.metadata)
    stand_in = dataclasses.dataclass(type(cls.__name__, (), body), init=False, repr=False, eq=False)
    params = copy.copy(stand_in.__dataclass_params__)
    params.frozen = cls.__record_frozen__                                     # type: ignore[attr-defined]
    return stand_in.__dataclass_fields__, params


def _freeze(cls: type, fields: tuple[Field, ...], slots: bool) -> None:
    """What ``@dataclass(frozen=True)`` adds, as closures: a ``__setattr__`` and ``__delattr__``
    that raise :class:`dataclasses.FrozenInstanceError` for the fields (for any name, on an
    instance of the class itself), and the ``__getstate__`` / ``__setstate__`` that let copy and
    pickle rebuild a slotted instance (``__dataclass_params__.frozen`` comes from
    ``__record_frozen__``: :func:`_dataclass_view`)."""
    names = frozenset(f.name for f in fields)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    __setattr__.__qualname__ = f"{cls.__qualname__}.__setattr__"
    __delattr__.__qualname__ = f"{cls.__qualname__}.__delattr__"
    cls.__setattr__ = __setattr__                                             # type: ignore[method-assign]
    cls.__delattr__ = __delattr__                                             # type: ignore[method-assign]
    if slots:
        order = tuple(f.name for f in fields)
        get_all = _getter(order)

        def __getstate__(self: Any) -> list:
            return list(get_all(self))

        def __setstate__(self: Any, state: list) -> None:
            for name, value in zip(order, state):
                object.__setattr__(self, name, value)

        if "__getstate__" not in cls.__dict__:
            cls.__getstate__ = __getstate__                                   # type: ignore[attr-defined]
        if "__setstate__" not in cls.__dict__:
            cls.__setstate__ = __setstate__                                   # type: ignore[attr-defined]


def _methods(fields: tuple[Field, ...], frozen: bool) -> dict[str, Any]:
    """``__repr__``, ``__eq__`` and ``__hash__`` of a dataclass with these fields."""
    shown = tuple(f.name for f in fields if f.repr)

    @reprlib.recursive_repr()                   # (a record that holds itself shows "...", as a dataclass)
    def __repr__(self: Any) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    key = _getter(tuple(f.name for f in fields if f.compare))

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    if not frozen:
        return {"__repr__": __repr__, "__eq__": __eq__, "__hash__": None}     # (mutable: unhashable)
    hashed = _getter(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    return {"__repr__": __repr__, "__eq__": __eq__, "__hash__": __hash__}


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """The values of attributes ``names`` of an object, as a tuple."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _init(cls: type, fields: tuple[Field, ...], frozen: bool) -> Callable[..., None]:
    """A dataclass's ``__init__``: positional and keyword arguments for the ``init`` fields in
    order, their defaults and default factories, the others' defaults, then ``__post_init__``."""
    params = [f for f in fields if f.init]
    names = tuple(f.name for f in params)
    index = {n: i for i, n in enumerate(names)}
    fills = tuple((f.default, f.default_factory) for f in params)
    rest = tuple((f.name, f.default, f.default_factory) for f in fields
                 if not f.init and (f.default is not MISSING or f.default_factory is not MISSING))
    post = getattr(cls, "__post_init__", None)
    put = object.__setattr__ if frozen else setattr
    qualname = cls.__qualname__
    required = sum(1 for default, factory in fills if default is MISSING and factory is MISSING)
    takes = f"{len(names) + 1}" if required == len(names) else f"from {required + 1} to {len(names) + 1}"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}.__init__() takes {takes} positional arguments but {len(args) + 1} were given")
        values = list(args)
        values += [MISSING] * (len(names) - len(args))
        for name, value in kwargs.items():
            i = index.get(name)
            if i is None:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {name!r}")
            if i < len(args):
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
            values[i] = value
        for i, (value, (default, factory)) in enumerate(zip(values, fills)):
            if value is MISSING:
                if factory is not MISSING:
                    values[i] = factory()
                elif default is not MISSING:
                    values[i] = default
                else:
                    raise TypeError(f"{qualname}.__init__() {_missing(names, values, fills)}")
        for name, value in zip(names, values):
            put(self, name, value)
        for name, default, factory in rest:
            put(self, name, factory() if factory is not MISSING else default)
        if post is not None:
            post(self)

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _compiled_init(cls: type, fields: tuple[Field, ...], frozen: bool) -> Callable[..., None]:
    """A dataclass's ``__init__`` as :func:`_init` makes it, compiled from source as dataclasses
    compiles its own (a few times faster to call than the closure): one statement a field."""
    env: dict[str, Any] = {"_record_setattr": object.__setattr__, "_record_factory_given": _HAS_FACTORY}
    params, body = [], []
    through_dict = False
    defaulted = None
    for i, f in enumerate(fields):
        value = f.name
        if f.default_factory is not MISSING:
            env[f"_record_factory_{i}"] = f.default_factory
            if f.init:
                params.append(f"{f.name}=_record_factory_given")
                value = f"_record_factory_{i}() if {f.name} is _record_factory_given else {f.name}"
            else:
                value = f"_record_factory_{i}()"
        elif f.default is not MISSING:
            env[f"_record_default_{i}"] = f.default
            if f.init:
                params.append(f"{f.name}=_record_default_{i}")
            else:
                value = f"_record_default_{i}"
        elif f.init:
            if defaulted is not None:
                raise TypeError(f"non-default argument {f.name!r} follows default argument {defaulted!r}")
            params.append(f.name)
        else:
            continue                            # (init=False without a default: left unset)
        if f.init and (f.default is not MISSING or f.default_factory is not MISSING):
            defaulted = defaulted or f.name
        if not frozen:
            body.append(f"_record_self.{f.name} = {value}")
            continue
        # a frozen class's field is set past its __setattr__: a slot through its member descriptor,
        # else in the instance's __dict__ (what object.__setattr__ does there, two to three times
        # faster); through object.__setattr__ when a class defines a data descriptor of that name
        where = _frozen_store(cls, f.name)
        if where == "slot":
            env[f"_record_slot_{i}"] = _class_attribute(cls, f.name).__set__
            body.append(f"_record_slot_{i}(_record_self, {value})")
        elif where == "dict":
            through_dict = True
            body.append(f"_record_dict[{f.name!r}] = {value}")
        else:
            body.append(f"_record_setattr(_record_self, {f.name!r}, {value})")
    if through_dict:
        body.insert(0, "_record_dict = _record_self.__dict__")
    if hasattr(cls, "__post_init__"):
        body.append("_record_self.__post_init__()")
    # (the instance is "_record_self": a field may be called "self")
    source = f"def __init__(_record_self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    # exec of the text, not of compile()'s code: a process's first compile() call makes the ast
    # module's types (about 10M instructions, a sixth of Python's start-up), exec of a str does not
    exec(source, env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    where = {"co_filename": f"<record {cls.__qualname__}>"}
    if hasattr(init.__code__, "co_qualname"):           # (3.11+: the name its argument errors give)
        where["co_qualname"] = init.__qualname__
    init.__code__ = init.__code__.replace(**where)
    return init


def _class_attribute(cls: type, name: str) -> Any:
    """The attribute ``name`` of the first class of ``cls``'s MRO that has one, or ``MISSING``."""
    for k in cls.__mro__:
        if name in k.__dict__:
            return k.__dict__[name]
    return MISSING


def _frozen_store(cls: type, name: str) -> str:
    """Where ``object.__setattr__`` puts field ``name`` of an instance of ``cls``: ``"slot"`` (a
    member descriptor of ``__slots__``), ``"dict"`` (the instance's ``__dict__``: no class defines a
    data descriptor of that name), else ``"setattr"`` (some other data descriptor)."""
    attr = _class_attribute(cls, name)
    if type(attr) is MemberDescriptorType:
        return "slot"
    if not hasattr(type(attr), "__set__") and cls.__dictoffset__:
        return "dict"
    return "setattr"


class _HasFactory:
    """The default of an ``__init__`` argument whose field has a default factory."""

    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _HasFactory()


def _missing(names: tuple[str, ...], values: list, fills: tuple) -> str:
    """Python's words for the required arguments not given (as a generated ``__init__`` says them)."""
    gone = [repr(n) for n, v, (default, factory) in zip(names, values, fills)
            if v is MISSING and default is MISSING and factory is MISSING]
    listed = gone[0] if len(gone) == 1 else " and ".join(gone) if len(gone) == 2 else \
        ", ".join(gone[:-1]) + ", and " + gone[-1]
    return f"missing {len(gone)} required positional argument{'s' if len(gone) > 1 else ''}: {listed}"
