"""capture.json's rules for keys and names: each object has a fixed set of keys, and any other
key is an error unless it starts with ``x_`` (the user's own metadata, kept but never read);
names that become parts of file names (sequences, environments) use :data:`FILE_NAME_PART`."""

from __future__ import annotations

import re

from neutex.errors import CaptureError

#: a name that becomes part of a file name (``prepared/arrays/seq_<name>.npy``, ``env_<name>.npy``).
FILE_NAME_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_keys(d: dict, allowed: set[str], where: str) -> None:
    """Raise a :class:`CaptureError` naming the first key of ``d`` that is neither in ``allowed``
    nor ``x_``-prefixed (``where``: the object's path in the document, ``""`` at the top).

    Examples:
        >>> check_keys({"id": "cam00", "x_note": "spare"}, {"id"}, "cameras[0]")
        >>> check_keys({"idd": "cam00"}, {"id"}, "cameras[0]")
        Traceback (most recent call last):
        ...
        neutex.errors.CaptureError: cameras[0].idd: unknown key (expected one of: id; prefix your own metadata keys with 'x_')
    """
    for k in d:
        if k not in allowed and not str(k).startswith("x_"):
            raise CaptureError(f"{f'{where}.{k}' if where else k}: unknown key (expected one of: "
                               f"{', '.join(sorted(allowed))}; prefix your own metadata keys with 'x_')")
