"""`.txt` sidecar captions: `cats/002.png` is captioned by `cats/002.txt`. The trainer's image folder
(model/data/folder.py) and the platform's upload intake pair and read them with these functions, so
both take the same text; each says in its own way what it does with a caption it refuses.
Standard library only, so the API imports it without torch.
"""

from __future__ import annotations

import posixpath

SIDECAR_SUFFIX = ".txt"  # in any case: "a.TXT" captions "a.png" too


def sidecar_stem(name: str) -> str:
    """What pairs an image with its sidecar (names as POSIX paths): the same path without the extension."""
    return posixpath.splitext(name)[0]


def read_sidecar(data: bytes) -> str:
    """The caption in a sidecar: UTF-8 (a leading BOM is dropped), stripped of surrounding whitespace;
    "" when blank. Raises ValueError saying what is wrong with the text and how to fix it."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"caption is not valid UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "save it as UTF-8") from None
    if "\x00" in text:
        raise ValueError("caption contains a NUL character")
    return text.strip()
