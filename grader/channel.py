"""The judge-worker channel: length-prefixed frames of a JSON header and raw array bytes.

A frame is `total length (8 bytes, big-endian) | header length (4 bytes) | header | payload`.
The header is JSON: `{"body": ..., "arrays": [{"dtype", "shape", "offset", "nbytes"}, ...]}`.
In the body every value is tagged, so nothing a worker sends can be mistaken for another kind:
`{"d": {...}}` a dict with string keys, `{"l": [...]}` a list, `{"a": i}` the i-th array, and
plain JSON numbers, strings, booleans and null. Nothing is ever unpickled; the judge rebuilds
fresh ndarrays of whitelisted dtypes from bytes and checks every size before it trusts it.

This module imports only numpy (lazily on the worker's encoding side) and the standard library,
so both the judge and the worker use it.
"""

import json
import struct

DEFAULT_CAP = 64 * 1024 * 1024  # bytes in one frame
MAX_DEPTH = 32
ALLOWED_DTYPES = {
    "<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1",
}
_LENGTH = struct.Struct(">Q")
_HEADER_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame that does not parse, breaks a rule, or exceeds the size cap."""


class FrameTooLarge(ProtocolError):
    """A frame announced more bytes than the cap allows."""


class Unsendable(Exception):
    """A value the channel cannot carry (an object, an unsupported dtype, a non-string key)."""


# --- encoding (worker side, and the judge's requests) ---------------------------------------


def encode(value):
    """Serialise `value` (dicts, lists, tuples, numbers, strings, ndarrays) into one frame."""
    import numpy as np

    arrays = []
    chunks = []
    offset = 0

    def tag(item, depth):
        nonlocal offset
        if depth > MAX_DEPTH:
            raise Unsendable("the value is nested too deeply")
        if item is None or isinstance(item, (bool, str)):
            return item
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return item
        if isinstance(item, np.generic):
            return tag(item.item(), depth + 1) if item.dtype.kind in "biuf" else _refuse(item)
        if isinstance(item, np.ndarray):
            array = item if item.flags.c_contiguous else item.copy(order="C")  # keeps 0-d
            if array.dtype.byteorder == ">":
                array = array.astype(array.dtype.newbyteorder("<"))
            dtype = array.dtype.str
            if dtype not in ALLOWED_DTYPES:
                raise Unsendable(f"arrays of dtype {array.dtype} are not supported")
            data = array.tobytes()
            arrays.append(
                {"dtype": dtype, "shape": list(array.shape), "offset": offset, "nbytes": len(data)}
            )
            chunks.append(data)
            offset += len(data)
            return {"a": len(arrays) - 1}
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise Unsendable("dict keys must be strings")
            return {"d": {key: tag(val, depth + 1) for key, val in item.items()}}
        if isinstance(item, (list, tuple)):
            return {"l": [tag(val, depth + 1) for val in item]}
        return _refuse(item)

    body = tag(value, 0)
    header = json.dumps({"body": body, "arrays": arrays}).encode()
    payload = b"".join(chunks)
    total = _HEADER_LENGTH.size + len(header) + len(payload)
    return _LENGTH.pack(total) + _HEADER_LENGTH.pack(len(header)) + header + payload


def _refuse(item):
    raise Unsendable(f"values of type {type(item).__name__} cannot be sent")


# --- decoding (judge side: everything here is untrusted) ------------------------------------


def frame_length(prefix, cap=DEFAULT_CAP):
    """The body length announced by an 8-byte prefix; refuses lengths over the cap."""
    (total,) = _LENGTH.unpack(prefix)
    if total > cap:
        raise FrameTooLarge(f"a message of {total} bytes exceeds the {cap}-byte cap")
    if total < _HEADER_LENGTH.size:
        raise ProtocolError("a message shorter than its own header")
    return total


def decode(body):
    """Rebuild the value from a frame body (everything after the 8-byte prefix)."""
    import numpy as np

    (header_length,) = _HEADER_LENGTH.unpack_from(body)
    start = _HEADER_LENGTH.size
    if header_length > len(body) - start:
        raise ProtocolError("the header runs past the end of the message")
    try:
        header = json.loads(bytes(body[start:start + header_length]))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"the header is not JSON ({exc})") from None
    except RecursionError:
        raise ProtocolError("the header is nested too deeply") from None
    if not isinstance(header, dict) or set(header) != {"body", "arrays"}:
        raise ProtocolError("the header does not have exactly 'body' and 'arrays'")
    payload = memoryview(body)[start + header_length:]
    arrays = [_rebuild_array(spec, payload, np) for spec in _as_list(header["arrays"])]
    return _untag(header["body"], arrays, 0)


def _as_list(value):
    if not isinstance(value, list):
        raise ProtocolError("'arrays' is not a list")
    return value


def _rebuild_array(spec, payload, np):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "offset", "nbytes"}:
        raise ProtocolError("an array description has the wrong fields")
    dtype, shape, offset, nbytes = spec["dtype"], spec["shape"], spec["offset"], spec["nbytes"]
    if dtype not in ALLOWED_DTYPES:
        raise ProtocolError(f"dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(_is_count(dim) for dim in shape):
        raise ProtocolError("an array shape is not a list of non-negative integers")
    if not (_is_count(offset) and _is_count(nbytes)):
        raise ProtocolError("an array offset or size is not a non-negative integer")
    itemsize = np.dtype(dtype).itemsize
    count = 1
    for dim in shape:
        count *= dim
    if count * itemsize != nbytes or offset + nbytes > len(payload):
        raise ProtocolError("an array's size does not match its shape or the message")
    raw = payload[offset:offset + nbytes]
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _untag(node, arrays, depth):
    if depth > MAX_DEPTH:
        raise ProtocolError("the value is nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ProtocolError("an untagged value in the body")
    (kind, inner), = node.items()
    if kind == "a" and _is_count(inner) and inner < len(arrays):
        return arrays[inner]
    if kind == "l" and isinstance(inner, list):
        return [_untag(item, arrays, depth + 1) for item in inner]
    if kind == "d" and isinstance(inner, dict):
        return {key: _untag(item, arrays, depth + 1) for key, item in inner.items()}
    raise ProtocolError(f"an unknown tag {kind!r} in the body")


# --- blocking helpers for the worker side ---------------------------------------------------


def read_frame(stream, cap=DEFAULT_CAP):
    """Read one frame from a binary stream; None at end of stream."""
    prefix = _read_exactly(stream, _LENGTH.size)
    if prefix is None:
        return None
    body = _read_exactly(stream, frame_length(prefix, cap))
    if body is None:
        raise ProtocolError("the stream ended inside a message")
    return decode(body)


def _read_exactly(stream, size):
    parts = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def write_frame(stream, value):
    stream.write(encode(value))
    stream.flush()
