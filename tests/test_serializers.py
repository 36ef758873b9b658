"""Built-in serializers, the size rule, measurement, errors and registration."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from dagforge.errors import SerializationError
from dagforge.serializers import (
    Measurement,
    Serializer,
    available_serializers,
    deserialize,
    get_serializer,
    is_trusted_only,
    measure,
    payload_size,
    register_serializer,
    serialize,
)

VALUE = {"name": "glass", "quantity": 250, "items": [1, 2.5, "x", None, True], "nested": {"a": []}}


def test_builtins_are_registered() -> None:
    assert {"pickle", "cloudpickle", "json", "numpy", "numpy-safe"} <= set(available_serializers())
    assert available_serializers() == sorted(available_serializers())
    assert get_serializer(None).name == "pickle"  # the default


@pytest.mark.parametrize("name", ["pickle", "cloudpickle", "json", "numpy", "numpy-safe"])
def test_round_trip(name: str) -> None:
    value = [] if name == "numpy-safe" else VALUE
    data = get_serializer(name).dumps(value)
    assert isinstance(data, bytes)
    assert get_serializer(name).loads(data) == value
    assert deserialize(serialize(value, name), name) == value


def test_trusted_only_flags() -> None:
    assert is_trusted_only("pickle") and is_trusted_only("cloudpickle") and is_trusted_only("numpy")
    assert not is_trusted_only("json") and not is_trusted_only("numpy-safe")


def test_pickle_uses_protocol_5() -> None:
    assert serialize(VALUE, "pickle")[:2] == b"\x80\x05"


def test_cloudpickle_handles_lambdas_and_plain_pickle_loads_it() -> None:
    def make_adder(n):
        return lambda x: x + n

    data = serialize(make_adder(3), "cloudpickle")
    assert pickle.loads(data)(4) == 7
    assert deserialize(data, "cloudpickle")(1) == 4
    with pytest.raises(SerializationError, match="'pickle'"):
        serialize(make_adder(3), "pickle")


def test_json_is_compact_utf8_in_insertion_order() -> None:
    data = serialize({"z": 1, "a": "é"}, "json")
    assert data == '{"z":1,"a":"é"}'.encode()
    assert serialize((1, 2), "json") == b"[1,2]"  # tuples come back as lists


@pytest.mark.parametrize("value", [b"raw", bytearray(b"raw"), {"k": b"raw"}])
def test_json_refuses_bytes(value) -> None:
    with pytest.raises(SerializationError, match="bytes are not JSON") as info:
        serialize(value, "json")
    assert isinstance(info.value.__cause__, TypeError)


def test_json_refuses_numpy_values() -> None:
    np = pytest.importorskip("numpy")
    for value in (np.arange(3), {"x": np.int64(3)}):
        with pytest.raises(SerializationError, match=r"numpy value.*\.tolist\(\)"):
            serialize(value, "json")


def test_json_decode_error() -> None:
    with pytest.raises(SerializationError, match=r"'json' cannot decode 3 bytes: JSONDecodeError"):
        deserialize(b"{x}", "json")


# --- numpy ---------------------------------------------------------------------------------


def test_numpy_array_round_trip_keeps_dtype_and_shape() -> None:
    np = pytest.importorskip("numpy")
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    for name in ("numpy", "numpy-safe"):
        back = deserialize(serialize(array, name), name)
        assert back.dtype == np.float32 and back.shape == (3, 4)
        np.testing.assert_array_equal(back, array)


def test_numpy_containers() -> None:
    np = pytest.importorskip("numpy")
    a, b = np.arange(3), np.ones((2, 2), dtype=bool)
    for value in ({"a": a, "b": b}, [a, b], (a, b)):
        back = deserialize(serialize(value, "numpy-safe"), "numpy-safe")
        assert type(back) is type(value)
        items = list(back.values()) if isinstance(back, dict) else list(back)
        for got, want in zip(items, [a, b], strict=True):
            np.testing.assert_array_equal(got, want)
    assert list(deserialize(serialize({"b": b, "a": a}, "numpy"), "numpy")) == ["b", "a"]


def test_numpy_falls_back_to_pickle_and_numpy_safe_refuses() -> None:
    np = pytest.importorskip("numpy")
    for value in ({"a": np.arange(2), "n": 1}, "text", np.array([None, 1], dtype=object)):
        data = serialize(value, "numpy")
        back = deserialize(data, "numpy")
        if isinstance(value, np.ndarray):
            assert back.tolist() == value.tolist()
        elif isinstance(value, dict):
            assert back["n"] == 1
        else:
            assert back == value
        with pytest.raises(SerializationError, match=r"'numpy-safe' cannot decode.*pickled"):
            deserialize(data, "numpy-safe")
        with pytest.raises(SerializationError, match="'numpy-safe' cannot encode"):
            serialize(value, "numpy-safe")


def test_numpy_rejects_foreign_bytes() -> None:
    with pytest.raises(SerializationError, match="bad magic"):
        deserialize(b"\x93NUMPY", "numpy")


def test_numpy_is_not_imported_for_plain_values() -> None:
    code = (
        "import sys; from dagforge import serializers as s; "
        "[s.payload_size(v, n) for v in ({'a': 1}, [1.5]) for n in ('pickle', 'json', 'numpy')]; "
        "s.measure({'a': 1}, 'numpy'); print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- size rule and measurement -------------------------------------------------------------


def test_payload_size_counts_numpy_nbytes() -> None:
    np = pytest.importorskip("numpy")
    array = np.zeros((100, 10), dtype=np.float64)
    for name in ("pickle", "json", "numpy"):
        assert payload_size(array, name) == 8000  # raw buffer, whatever the format
    assert payload_size(array[::2], "pickle") == 4000  # a view counts its own elements


@pytest.mark.parametrize("name", ["pickle", "json", "cloudpickle"])
def test_payload_size_counts_serialized_bytes_otherwise(name: str) -> None:
    assert payload_size(VALUE, name) == len(get_serializer(name).dumps(VALUE))
    assert payload_size("é", "json") == len('"é"'.encode())


def test_measure() -> None:
    m = measure(VALUE, "json")
    assert isinstance(m, Measurement)
    assert m.nbytes == len(serialize(VALUE, "json"))
    assert m.serialize_ms >= 0 and m.deserialize_ms >= 0
    assert not hasattr(m, "__dict__")  # slots


def test_measure_really_round_trips() -> None:
    calls: list[str] = []

    class Counting(Serializer):
        name = "counting"
        trusted_only = False

        def dumps(self, obj):
            calls.append("dumps")
            return json.dumps(obj).encode()

        def loads(self, data):
            calls.append("loads")
            return json.loads(data)

    assert measure([1, 2], Counting()).nbytes == len(b"[1, 2]")
    assert calls == ["dumps", "loads"]


def test_measure_numpy_uses_the_size_rule() -> None:
    np = pytest.importorskip("numpy")
    array = np.arange(1000, dtype=np.int16)
    assert measure(array, "numpy").nbytes == 2000


# --- errors ---------------------------------------------------------------------------------


def test_error_names_serializer_node_and_output() -> None:
    with pytest.raises(SerializationError) as info:
        serialize({"x": b"1"}, "json", context="node 'fetch' output 'rows'")
    message = str(info.value)
    assert "'json'" in message and "node 'fetch' output 'rows'" in message
    assert isinstance(info.value.__cause__, TypeError)
    assert info.value.serializer == "json"
    assert info.value.context == "node 'fetch' output 'rows'"


def test_error_without_context() -> None:
    with pytest.raises(SerializationError) as info:
        deserialize(b"garbage", "pickle")
    assert str(info.value).startswith("serializer 'pickle' cannot decode 7 bytes:")
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)


def test_custom_serializer_failures_are_wrapped() -> None:
    class Broken(Serializer):
        name = "broken"

        def dumps(self, obj):
            raise RuntimeError("boom")

        def loads(self, data):
            return "not bytes in, fine"

    with pytest.raises(SerializationError, match=r"'broken' cannot encode node 'n'.*boom") as info:
        serialize(1, Broken(), context="node 'n' output 'o'")
    assert isinstance(info.value.__cause__, RuntimeError)

    class NotBytes(Broken):
        def dumps(self, obj):
            return "text"

    with pytest.raises(SerializationError, match="returned str instead of bytes"):
        serialize(1, NotBytes())


def test_unknown_serializer_lists_known_names() -> None:
    with pytest.raises(SerializationError) as info:
        get_serializer("msgpack")
    message = str(info.value)
    assert "'msgpack'" in message
    for name in ("pickle", "cloudpickle", "json", "numpy"):
        assert f"'{name}'" in message


def test_get_serializer_refuses_other_objects() -> None:
    with pytest.raises(SerializationError, match="neither a serializer name"):
        get_serializer(42)


# --- registration ----------------------------------------------------------------------------


class Upper(Serializer):
    name = "test-upper"
    trusted_only = False

    def dumps(self, obj):
        return str(obj).upper().encode()

    def loads(self, data):
        return data.decode()


def test_register_custom_serializer() -> None:
    ser = Upper()
    try:
        assert register_serializer(ser) is ser
        assert get_serializer("test-upper") is ser
        assert "test-upper" in available_serializers()
        assert deserialize(serialize("abc", "test-upper"), "test-upper") == "ABC"
        assert payload_size("abc", "test-upper") == 3
        with pytest.raises(SerializationError, match=r"already registered.*replace=True"):
            register_serializer(Upper())
        other = Upper()
        register_serializer(other, replace=True)
        assert get_serializer("test-upper") is other
    finally:
        from dagforge import serializers

        serializers._REGISTRY.pop("test-upper", None)


def test_duck_typed_serializer_counts_as_trusted_only() -> None:
    class Duck:
        name = "duck"

        def dumps(self, obj):
            return b"q"

        def loads(self, data):
            return "quack"

    assert get_serializer(Duck()).loads(b"") == "quack"
    assert is_trusted_only(Duck())  # says nothing, so it is not assumed safe


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        (object(), "non-empty string attribute 'name'"),
        (type("NoLoads", (), {"name": "x", "dumps": lambda self, o: b""})(), "no callable loads"),
    ],
)
def test_register_refuses_incomplete_serializers(obj, words) -> None:
    with pytest.raises(SerializationError, match=words):
        register_serializer(obj)
