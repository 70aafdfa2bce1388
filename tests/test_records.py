"""pgwalk.records.record against dataclasses.dataclass: the same classes declared both ways must
construct, compare, hash, show, freeze, replace and pickle alike, errors included."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from pgwalk.params import Features, S1WalkParams, TranslationSetup, setup_from_registers
from pgwalk.records import field as record_field
from pgwalk.records import named_tuple
from pgwalk.records import record
from pgwalk.records import replace as record_replace


def _declare(deco, field=field):
    """One set of classes (frozen with slots, frozen, mutable) under ``deco(frozen=, slots=)``, their
    fields' settings by ``field`` (dataclasses', or pgwalk.records' own)."""

    @deco(frozen=True, slots=True)
    class Params:
        """A frozen slotted record."""
        a: int
        b: str
        c: tuple[int, ...] = ()
        d: int | None = 7
        e: list = field(default_factory=list, compare=False)
        f: dict = field(default_factory=dict, repr=False, hash=False)
        g: int = field(default=3, hash=False)

        @property
        def twice(self) -> int:
            return 2 * self.a

    @deco(frozen=True)
    class Setup:
        """A frozen record with a dict (unhashable) and an init=False field."""
        params: Params
        regs: dict = field(default_factory=dict)
        late: int = field(default=5, init=False)

    @deco()
    class Summary:
        """A mutable record, with __post_init__."""
        n: int
        notes: list = field(default_factory=list)

        def __post_init__(self) -> None:
            self.notes.append(f"n={self.n}")

    @deco(frozen=True)
    class Own:
        """A record whose body defines __repr__ and __eq__ (kept, as dataclasses keeps them)."""
        x: int

        def __repr__(self) -> str:
            return f"<own {self.x}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Own) and other.x % 10 == self.x % 10

    return Params, Setup, Summary, Own


DC = _declare(lambda **kw: dataclass(**kw))
RC = _declare(lambda **kw: record(**kw))
RCI = _declare(lambda **kw: record(compiled_init=True, **kw))          # dataclasses' own __init__
RCF = _declare(lambda **kw: record(compiled_init=True, **kw), field=record_field)

CALLS = [
    ((1, "x"), {}), ((1,), {"b": "y"}), ((), {"a": 2, "b": "z", "d": None}),
    ((1, "x", (1, 2), 4, [9], {"k": 1}, 8), {}), ((1, "x"), {"g": 11, "e": [1]}),
    # the errors
    ((), {}), ((1,), {}), ((1, "x", (), 1, [], {}, 2, 99), {}), ((1, "x"), {"nope": 1}),
    ((1, "x"), {"a": 2}), ((1, "x"), {"late": 1}),
]


def _outcome(make, args, kwargs):
    try:
        return "ok", make(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except TypeError as exc:
        return "TypeError", str(exc).split("__init__() ", 1)[-1]


@pytest.mark.parametrize("made", [RC, RCI, RCF], ids=["closure_init", "compiled_init", "records_field"])
@pytest.mark.parametrize("args,kwargs", CALLS)
def test_construction_matches_dataclass(made, args, kwargs):
    (kind_d, d), (kind_r, r) = _outcome(DC[0], args, kwargs), _outcome(made[0], args, kwargs)
    assert kind_d == kind_r
    if kind_d == "ok":
        assert repr(d) == repr(r)
        assert dataclasses.astuple(d) == dataclasses.astuple(r)
        assert hash(dataclasses.replace(d)) == hash(d) and hash(dataclasses.replace(r)) == hash(r)
    else:
        assert d == r                       # the same message
    if kwargs.get("late") is not None or args == (1, "x") and kwargs == {"a": 2}:
        assert kind_d == "TypeError"


@pytest.mark.parametrize("made", [RC, RCI, RCF], ids=["closure_init", "compiled_init", "records_field"])
def test_equality_hash_and_fields_follow_compare_and_hash(made):
    P = made[0]
    a, b = P(1, "x", e=[1]), P(1, "x", e=[2])
    assert a == b and hash(a) == hash(b)                 # e: compare=False
    assert P(1, "x", g=1) != P(1, "x", g=2)
    assert hash(P(1, "x", g=1)) == hash(P(1, "x", g=2))  # g: hash=False
    assert P(1, "x") != DC[0](1, "x") and (P(1, "x") == (1, "x")) is False
    assert [f.name for f in dataclasses.fields(P)] == [f.name for f in dataclasses.fields(DC[0])]
    assert dataclasses.is_dataclass(P) and P.__match_args__ == DC[0].__match_args__
    assert P.__slots__ == DC[0].__slots__ and P(4, "q").twice == 8


@pytest.mark.parametrize("made", [RC, RCI, RCF], ids=["closure_init", "compiled_init", "records_field"])
def test_frozen_and_mutable_behaviour(made):
    P, S, M = made[:3]
    p = P(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.a = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.b
    s = S(p, {"r": 1})
    assert s.late == 5 and repr(s) == repr(DC[1](DC[0](1, "x"), {"r": 1})).replace("test_records.", "")
    with pytest.raises(TypeError):
        hash(s)                                          # a dict field: as a frozen dataclass
    m = M(3)
    assert m.notes == ["n=3"] and m == M(3) and M.__hash__ is None
    m.n = 4
    assert m != M(3)
    assert dataclasses.replace(p, b="y") == P(1, "y")
    # (replace passes the list on, and __post_init__ appends to it: as with a dataclass)
    assert dataclasses.replace(M(3), n=3).notes == dataclasses.replace(DC[2](3), n=3).notes == ["n=3", "n=3"]


def test_pickle_round_trip():
    P = RC[0]
    p = P(1, "x", (2,), None, [3], {"k": 4}, 5)
    globals()["_Pickled"] = P                            # (pickle finds a class by its name)
    P.__qualname__ = "_Pickled"
    try:
        assert pickle.loads(pickle.dumps(p)) == p
    finally:
        del globals()["_Pickled"]


def test_pgwalk_parameter_classes_are_records_that_behave():
    """The real classes made with record: a setup from registers, replaced and compared."""
    setup = setup_from_registers({"TCR_EL1": 0x0000_0010_0010_0010 | (0b10 << 30), "TTBR0_EL1": 0x4000_0000,
                                  "TTBR1_EL1": 0x4001_0000, "SCTLR_EL1": 1, "MAIR_EL1": 0xFF})
    assert isinstance(setup, TranslationSetup) and isinstance(setup.ranges[0], S1WalkParams)
    p = setup.ranges[0]
    assert dataclasses.replace(p) == p and hash(dataclasses.replace(p)) == hash(p)
    assert dataclasses.replace(p, ttbr=p.ttbr + 0x1000) != p
    assert "S1WalkParams(regime=" in repr(p) and "registers" not in repr(setup)
    assert Features() == Features() and Features(pa_max=48) != Features()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.ttbr = 0


@pytest.mark.parametrize("made", [DC, RC, RCI, RCF], ids=["dataclass", "closure_init", "compiled_init", "records_field"])
def test_methods_the_body_defines_are_kept(made):
    Own = made[3]
    assert repr(Own(3)) == "<own 3>" and Own(3) == Own(13) and Own(3) != Own(4)
    assert hash(Own(3)) == hash(Own(3))                    # (frozen, eq in the body: a field hash)
    assert (hash(Own(3)) == hash(Own(13))) == (hash((3,)) == hash((13,)))


def test_compiled_init_is_compiled_and_the_closure_is_not():
    import pgwalk.records as records

    assert RC[0].__init__.__code__.co_filename == records.__file__
    assert RCI[0].__init__.__code__.co_filename.startswith("<record ")
    # neither compiles the frozen __setattr__ / __delattr__ a frozen dataclass compiles
    assert RCI[0].__setattr__.__code__.co_filename == records.__file__


@pytest.mark.parametrize("made", [DC, RC, RCI, RCF], ids=["dataclass", "closure_init", "compiled_init", "records_field"])
def test_copy_pickle_and_frozen_flag_as_a_dataclass(made):
    P, S = made[:2]
    globals()["_Pickled"], globals()["_PickledS"] = P, S
    qualnames = P.__qualname__, S.__qualname__
    P.__qualname__, S.__qualname__ = "_Pickled", "_PickledS"
    try:
        p = P(1, "x", (2,), None, [3], {"k": 4}, 5)
        s = S(p, {"r": 1})
        for q in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):    # (slotted: __setstate__)
            assert q == p and q is not p and q.e == [3]
        for t in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
            assert t == s and t.late == 5
    finally:
        P.__qualname__, S.__qualname__ = qualnames
        del globals()["_Pickled"], globals()["_PickledS"]
    assert P.__dataclass_params__.frozen and S.__dataclass_params__.frozen and not made[2].__dataclass_params__.frozen
    # a frozen record subclasses as a frozen dataclass does: frozen again, never mutable
    @dataclass(frozen=True)
    class More(P):
        h: int = 0

    assert More(1, "x", h=2).h == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        More(1, "x").h = 3
    with pytest.raises(TypeError, match="non-frozen dataclass from a frozen one"):
        @dataclass
        class Mutable(P):
            h: int = 0


def test_argument_errors_name_the_class():
    import sys

    with pytest.raises(TypeError) as e:
        RCI[0](1)
    if sys.version_info >= (3, 11):         # (3.10 names the code object only)
        assert str(e.value).startswith(f"{RCI[0].__qualname__}.__init__() missing 1 required positional argument")


def test_eq_false_keeps_identity_as_a_dataclass():
    for deco in (dataclass(frozen=True, eq=False), record(frozen=True, eq=False)):
        @deco
        class Block:
            n: int

        a = Block(1)
        assert a != Block(1) and a == a and hash(a) == object.__hash__(a)
        assert repr(a) == "test_eq_false_keeps_identity_as_a_dataclass.<locals>.Block(n=1)"


def test_every_pgwalk_dataclass_is_a_record():
    """The README's rule: pgwalk declares its dataclasses with record (a @dataclass compiles its
    methods at each start-up), so that no module brings the cost back unnoticed."""
    import ast
    from pathlib import Path

    import pgwalk
    import pgwalk.formats

    roots = {Path(pgwalk.__file__).parent, Path(pgwalk.formats.__file__).parent}
    found = []
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if name == "dataclass":
                        found.append(f"{path.name}:{node.lineno} {node.name}")
    assert len(roots) == 2 and not found, found


def test_a_record_that_holds_itself_shows_dots():
    for deco in (dataclass, record):
        @deco
        class Node:
            children: list = field(default_factory=list)

        n = Node()
        n.children.append(n)
        assert repr(n).endswith("Node(children=[...])")


class _Doubling:
    """A base class whose property ``x`` has a setter (a data descriptor a field named x meets)."""

    @property
    def x(self) -> int:
        return self.__dict__["_x"]

    @x.setter
    def x(self, value: int) -> None:
        self.__dict__["_x"] = 2 * value


@pytest.mark.parametrize("deco", [dataclass, record, lambda **kw: record(compiled_init=True, **kw)],
                         ids=["dataclass", "closure_init", "compiled_init"])
def test_frozen_init_sets_fields_as_object_setattr_does(deco):
    """A frozen record's compiled __init__ writes a slot through its descriptor and a plain field into
    the instance's __dict__, and still goes through a data descriptor a base class defines."""
    @deco(frozen=True)
    class Through(_Doubling):
        x: int
        y: int = 1

    @deco(frozen=True, slots=True)
    class Slotted:
        x: int
        y: int = 1

    t, s = Through(3), Slotted(3, y=4)
    assert (t.x, t.y, t.__dict__) == (6, 1, {"_x": 6, "y": 1})
    assert (s.x, s.y) == (3, 4) and not hasattr(s, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.x = 1


def test_dataclasses_sees_a_record_as_a_dataclass_when_asked():
    """A record's ``__dataclass_fields__`` and ``__dataclass_params__`` are made when first asked
    for (dataclasses is not imported before): then fields, replace, asdict, is_dataclass and
    pattern matching work as on the dataclass declared alike."""
    for d, r in zip(DC, RCF):
        assert dataclasses.is_dataclass(r) and r.__match_args__ == d.__match_args__
        assert [(f.name, f.type, f.init, f.repr, f.hash, f.compare, f.default, f.default_factory)
                for f in dataclasses.fields(r)] == [
            (f.name, f.type, f.init, f.repr, f.hash, f.compare, f.default, f.default_factory)
            for f in dataclasses.fields(d)]
        assert r.__dataclass_params__.frozen == d.__dataclass_params__.frozen
    p = RCF[0](1, "x", e=[2])
    assert dataclasses.asdict(p) == dataclasses.asdict(DC[0](1, "x", e=[2]))
    assert dataclasses.replace(p, a=5) == RCF[0](5, "x", e=[2])
    params = RCF[0]
    match p:
        case params(a, b):
            assert (a, b) == (1, "x")
        case _:
            raise AssertionError("no match")
    assert RCF[0].__slots__ == DC[0].__slots__ and not hasattr(p, "__dict__")


def test_field_declaration_errors_as_dataclasses():
    for deco, fld in ((dataclass, field), (record, record_field)):
        with pytest.raises(ValueError, match="mutable default <class 'list'> for field x is not allowed"):
            @deco
            class A:
                x: list = []
        with pytest.raises(ValueError, match="mutable default <class 'dict'> for field x is not allowed"):
            @deco
            class B:
                x: dict = fld(default={})
        with pytest.raises(TypeError, match="'y' is a field but has no type annotation"):
            @deco
            class C:
                x: int = 0
                y = fld(default=1)

        @deco
        class D:
            n: int
            k: int = fld(default=4)
            m: list = fld(default_factory=list)

        assert D.k == 4 and not hasattr(D, "m") and not hasattr(D, "n")


@pytest.mark.parametrize("made", [RC, RCI, RCF], ids=["closure_init", "compiled_init", "records_field"])
def test_replace_as_dataclasses_replace(made):
    """records.replace (what pgwalk's modules call) against dataclasses.replace, on the same record."""
    p = made[0](1, "x", e=[2])
    s = made[1](p)
    for obj, changes in ((p, {}), (p, {"a": 3, "g": 9}), (s, {"regs": {"k": 1}}), (made[2](4), {"n": 5})):
        ours, theirs = record_replace(obj, **changes), dataclasses.replace(obj, **changes)
        assert ours == theirs and ours is not obj and type(ours) is type(obj)
    import sys

    init_false = TypeError if sys.version_info >= (3, 13) else ValueError      # (as dataclasses.replace)
    for obj, changes, error in ((s, {"late": 1}, init_false), (p, {"nope": 1}, TypeError)):
        with pytest.raises(error) as ours:
            record_replace(obj, **changes)
        with pytest.raises(error) as theirs:
            dataclasses.replace(obj, **changes)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="replace\\(\\) should be called on dataclass instances"):
        record_replace(object())


# ----------------------------------------------------------------------------- named_tuple

def _step(bases: tuple, decorate):
    """One class body, made by typing.NamedTuple (``bases``) or by a decorator."""

    @decorate
    class Step(*bases):
        """A step."""

        level: int
        address: int
        kind: str = "page"
        note: str | None = None

        @property
        def double(self) -> int:
            return 2 * self.level

        def describe(self, prefix: str = "") -> str:
            return f"{prefix}{self.kind}@{self.level}"

    return Step


_TypingStep = _step((__import__("typing").NamedTuple,), lambda cls: cls)
_Step = _step((), named_tuple)


@named_tuple
class _Bare:
    a: int
    b: int = 2


def test_named_tuple_is_what_typing_namedtuple_makes():
    """The same fields, defaults, methods, properties, docstring and behaviour as typing's class."""
    ours, theirs = _Step(1, 0x1000), _TypingStep(1, 0x1000)
    assert _Step._fields == _TypingStep._fields == ("level", "address", "kind", "note")
    assert _Step._field_defaults == _TypingStep._field_defaults == {"kind": "page", "note": None}
    assert tuple(ours) == tuple(theirs) == (1, 0x1000, "page", None) and ours == theirs
    assert repr(ours) == repr(theirs) == "Step(level=1, address=4096, kind='page', note=None)"
    assert ours.double == theirs.double == 2 and ours.describe(">") == theirs.describe(">") == ">page@1"
    assert ours._replace(kind="block") == _Step(1, 0x1000, "block")
    assert type(ours._replace(kind="block")) is _Step and type(_Step._make((1, 2, "x", None))) is _Step
    assert ours._asdict() == theirs._asdict()
    assert _Step.__doc__ == _TypingStep.__doc__ == "A step."
    assert _Step.__annotations__ == {"level": "int", "address": "int", "kind": "str", "note": "str | None"}
    assert _Step.__qualname__ == _TypingStep.__qualname__ and _Step.__module__ == _TypingStep.__module__
    assert _Step.__mro__[1:] == (tuple, object) and not hasattr(ours, "__dict__")
    assert copy.copy(ours) == ours and copy.deepcopy(ours) == ours
    assert _Bare.__doc__ == "_Bare(a, b)" and _Bare(1) == (1, 2)
    assert pickle.loads(pickle.dumps(_Bare(1, 5))) == _Bare(1, 5) and type(pickle.loads(pickle.dumps(_Bare(1)))) is _Bare
    with pytest.raises(TypeError):
        _Step(1)


def test_named_tuple_refuses_what_typing_refuses():
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default"):
        @named_tuple
        class _Late:
            a: int = 1
            b: int

    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _replace"):
        @named_tuple
        class _Own:
            a: int

            def _replace(self):
                return self


# ----------------------------------------------------------------------------- Protocol

def _protocols(base, checkable):
    """The same two protocols on ``base`` (typing's, or records'), one runtime-checkable."""

    @checkable
    class Reader(base):
        size: int

        def read(self, pa: int, n: int) -> bytes: ...

        @property
        def end(self) -> int: ...

    @checkable
    class Closer(Reader, base):
        def close(self) -> None: ...

    class Plain(base):
        def read(self) -> bytes: ...

    return Reader, Closer, Plain


def _methods_only(base, checkable):
    @checkable
    class Closes(base):
        def read(self, pa: int, n: int) -> bytes: ...

        def close(self) -> None: ...

    return Closes


class _Full:
    size = 4

    def read(self, pa, n):
        return b""

    @property
    def end(self):
        return 4

    def close(self):
        pass


class _NoSize:
    def read(self, pa, n):
        return b""

    end = 0


def test_protocol_isinstance_as_typing_checks_it():
    """isinstance of a runtime-checkable protocol: every member present (methods, properties,
    annotated attributes, a base protocol's), as typing.runtime_checkable checks; a protocol
    that is not runtime-checkable refuses the question."""
    import typing

    from pgwalk.memory import PhysicalMemory
    from pgwalk.memory_protocol import Memory
    from pgwalk.records import Protocol, runtime_checkable

    ours, theirs = _protocols(Protocol, runtime_checkable), _protocols(typing.Protocol, typing.runtime_checkable)
    full_only_read = type("OnlyRead", (), {"read": lambda self: b""})()
    for obj in (_Full(), _NoSize(), full_only_read, object(), 3, PhysicalMemory()):
        for mine, typings in zip(ours[:2], theirs[:2]):
            assert isinstance(obj, mine) == isinstance(obj, typings), (obj, mine)
    assert isinstance(_Full(), ours[1]) and not isinstance(_NoSize(), ours[0])
    for plain in (ours[2], theirs[2]):
        with pytest.raises(TypeError, match="runtime_checkable"):
            isinstance(_Full(), plain)

    class Named(ours[0]):                     # naming the protocol as a base: an instance of it
        pass

    assert isinstance(Named(), ours[0]) and issubclass(Named, ours[0])
    # issubclass: by the methods of a protocol that has only methods (else refused, as typing does)
    for mine, typings in ((ours[0], theirs[0]), (ours[1], theirs[1])):
        for refused in (mine, typings):
            with pytest.raises(TypeError, match="non-method members"):
                issubclass(_Full, refused)
    mine, typings = _methods_only(Protocol, runtime_checkable), _methods_only(typing.Protocol, typing.runtime_checkable)
    for cls in (_Full, _NoSize, int, PhysicalMemory):
        assert issubclass(cls, mine) == issubclass(cls, typings), cls
    assert issubclass(_Full, mine) and not issubclass(int, mine)
    # the walk's Memory protocol: the memories pgwalk opens, and what is not one
    assert isinstance(PhysicalMemory(), Memory) and not isinstance(_NoSize(), Memory)
