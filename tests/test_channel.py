"""The judge-worker channel: round trips, and refusal of anything that is not plain data."""

import json
import pickle
import struct

import numpy as np
import pytest

from grader import channel


def frame_body(header, payload=b""):
    data = json.dumps(header).encode()
    return struct.pack(">I", len(data)) + data + payload


def test_arrays_numbers_and_nesting_survive_a_round_trip():
    value = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "loss": 0.5,
             "steps": [1, 2, np.int64(3)], "name": "x", "flag": True, "none": None}
    back = channel.decode(channel.encode(value)[8:])
    assert back["weight"].dtype == np.float32 and back["weight"].shape == (2, 3)
    assert np.array_equal(back["weight"], value["weight"])
    assert back["steps"] == [1, 2, 3] and back["loss"] == 0.5 and back["flag"] is True


@pytest.mark.parametrize("shape", [(), (0,), (1,), (2, 0, 3)])
def test_zero_dimensional_and_empty_arrays_keep_their_shape(shape):
    back = channel.decode(channel.encode(np.ones(shape, dtype=np.float32))[8:])
    assert back.shape == shape, f"sent shape {shape}, got back {back.shape}"


def test_non_contiguous_arrays_arrive_with_their_values():
    array = np.arange(12, dtype=np.int32).reshape(3, 4).T
    assert np.array_equal(channel.decode(channel.encode(array)[8:]), array)


def test_rebuilt_arrays_are_fresh_writable_copies():
    back = channel.decode(channel.encode(np.zeros(3, dtype=np.float64))[8:])
    assert type(back) is np.ndarray and back.flags.writeable


def test_objects_cannot_be_sent():
    class Agreeable:
        def __eq__(self, other):
            return True

    with pytest.raises(channel.Unsendable):
        channel.encode({"loss": Agreeable()})
    with pytest.raises(channel.Unsendable):
        channel.encode(np.array([Agreeable()], dtype=object))


def test_a_pickle_is_refused_without_being_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    blob = pickle.dumps(Payload())
    with pytest.raises(channel.ProtocolError):
        channel.decode(struct.pack(">I", len(blob)) + blob)
    assert not marker.exists()


def _nested(depth):
    node = 1
    for _ in range(depth):
        node = {"l": [node]}
    return node


@pytest.mark.parametrize("header, payload", [
    ({"body": {"a": 0}, "arrays": [{"dtype": "|O", "shape": [1], "offset": 0, "nbytes": 8}]},
     b"\0" * 8),
    ({"body": {"a": 0}, "arrays": [{"dtype": "<f4", "shape": [4], "offset": 0, "nbytes": 16}]},
     b"\0" * 8),
    ({"body": {"a": 0}, "arrays": [{"dtype": "<f4", "shape": [-1], "offset": 0, "nbytes": 4}]},
     b"\0" * 4),
    ({"body": {"a": 3}, "arrays": []}, b""),
    ({"body": {"__reduce__": 1}, "arrays": []}, b""),
    ({"body": {"d": {"x": {"l": [1], "extra": 2}}}, "arrays": []}, b""),
    ({"body": 1}, b""),
    ({"body": {"a": 0}, "arrays": [{"dtype": "<f4", "shape": [2], "offset": 0, "nbytes": 4}]},
     b"\0" * 8),
    ({"body": {"a": 0}, "arrays": [{"dtype": "<f4", "shape": [1], "offset": 6, "nbytes": 4}]},
     b"\0" * 8),
    ({"body": _nested(40), "arrays": []}, b""),
])
def test_malformed_messages_are_protocol_errors(header, payload):
    with pytest.raises(channel.ProtocolError):
        channel.decode(frame_body(header, payload))


def test_a_frame_over_the_cap_is_refused_before_it_is_read():
    with pytest.raises(channel.FrameTooLarge):
        channel.frame_length(struct.pack(">Q", 2**40), cap=1024)


def test_a_header_nested_thousands_deep_is_a_protocol_error_not_a_recursion_error():
    header = b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b', "arrays": []}'
    with pytest.raises(channel.ProtocolError):
        channel.decode(struct.pack(">I", len(header)) + header)


# --- the dtype whitelist on decode ----------------------------------------------------------------


def one_array_frame(dtype, count=2):
    """A frame body holding one array of `count` zero items of `dtype`, sized correctly."""
    nbytes = count * np.dtype(dtype).itemsize
    header = {"body": {"a": 0},
              "arrays": [{"dtype": dtype, "shape": [count], "offset": 0, "nbytes": nbytes}]}
    return frame_body(header, b"\0" * nbytes)


REFUSED_DTYPES = ["<c16", "<U4", "|V8", "<M8[s]", ">f4"]  # complex, unicode, void, datetime, BE


@pytest.mark.parametrize("dtype", REFUSED_DTYPES)
def test_arrays_of_a_dtype_outside_the_whitelist_are_refused_on_decode(dtype):
    body = one_array_frame(dtype)
    try:
        value = channel.decode(body)
    except channel.ProtocolError as exc:
        assert dtype in str(exc), f"decode refused a {dtype} array with {exc!r}, naming no dtype"
        return
    pytest.fail(f"channel.decode(a frame with one {dtype} array) returned {value!r} "
                f"(dtype {getattr(value, 'dtype', None)}), expected a ProtocolError: only "
                f"{sorted(channel.ALLOWED_DTYPES)} may reach the suites")


@pytest.mark.parametrize("dtype", REFUSED_DTYPES)
def test_the_same_bytes_as_unsigned_bytes_decode(dtype):
    # the refused frames above are well-formed but for their dtype
    nbytes = 2 * np.dtype(dtype).itemsize
    value = channel.decode(one_array_frame("|u1", count=nbytes))
    assert value.dtype == np.uint8 and value.shape == (nbytes,), (
        f"decode(a frame of {nbytes} uint8 zeros) returned {value.dtype} {value.shape}")


def test_every_whitelisted_dtype_is_little_endian_or_single_byte_and_numeric():
    for dtype in channel.ALLOWED_DTYPES:
        parsed = np.dtype(dtype)
        assert parsed.kind in "biuf" and parsed.byteorder in "<|=", (
            f"ALLOWED_DTYPES holds {dtype!r} (kind {parsed.kind!r}, byte order "
            f"{parsed.byteorder!r}), expected little-endian bool, int, uint or float only")
