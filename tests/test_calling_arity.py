"""``calling.arity`` reads a callable object's ``__call__`` without ``inspect``: it must
agree with the ``inspect.signature`` reading it replaces, for every shape of ``__call__``."""

from __future__ import annotations

import functools
import inspect

import pytest

from dagforge import calling


def inspected(fn):
    """What ``arity`` answers without the fast path: ``inspect.signature``'s reading."""
    fast = calling._plain_call
    calling._plain_call = lambda _fn: None
    try:
        return calling.arity(fn)
    finally:
        calling._plain_call = fast


class NoArgs:
    def __call__(self):
        return 1


class TwoParents:
    def __call__(self, a, b, c=3):
        return a + b + c


class Star:
    def __call__(self, *values):
        return values


class KwOnly:
    def __call__(self, a, *, k, m=1):
        return a


class PosOnly:
    def __call__(self, a, /, b):
        return a


class SelfDefault:
    def __call__(self=None, a=1):
        return a


class Inherited(TwoParents):
    pass


class StaticCall:
    @staticmethod
    def __call__(a, b):
        return a


class StarOnly:
    def __call__(*args):
        return args


def _decorate(f):
    @functools.wraps(f)
    def inner(*args, **kwargs):
        return f(*args, **kwargs)

    return inner


class Wrapped:
    @_decorate
    def __call__(self, a):
        return a


class WithSignature:
    def __call__(self, a, b):
        return a

    __signature__ = inspect.Signature([inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)])


CASES = [NoArgs, TwoParents, Star, KwOnly, PosOnly, SelfDefault, Inherited, StaticCall]
CASES += [StarOnly, Wrapped, WithSignature]


@pytest.mark.parametrize("cls", CASES, ids=lambda c: c.__name__)
def test_callable_objects_read_like_inspect(cls):
    assert calling.arity(cls()) == inspected(cls())


def test_the_fast_path_is_taken_for_plain_call_methods_only(monkeypatch):
    calls = []
    real = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda fn, **kw: calls.append(fn) or real(fn))
    assert calling.arity(TwoParents()) == (2, False, 1, ())
    assert calling.arity(Star()) == (0, True, 0, ())
    assert calls == []  # read from the code: no inspect
    calling.arity(StaticCall())
    calling.arity(Wrapped())
    assert len(calls) == 2  # a staticmethod and a wrapped __call__ still go to inspect


def test_an_instance_attribute_does_not_change_the_reading():
    obj = TwoParents()
    obj.__call__ = lambda: 0  # Python calls type(obj).__call__, so does the engine
    assert calling.arity(obj) == inspected(obj) == (2, False, 1, ())


def test_classes_and_partials_are_not_read_as_call_objects():
    assert calling.arity(TwoParents) == inspected(TwoParents)
    part = functools.partial(lambda a, b: a, 1)
    assert calling.arity(part) == inspected(part) == (1, False, 0, ())
