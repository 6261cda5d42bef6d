"""Write small real DNG files for tests: a 64x64 raw mosaic and an embedded JPEG preview.

No RAW file small enough to commit was to be had offline, so tests make their own: a DNG is a
TIFF whose first IFD holds the preview (NewSubfileType 1, JPEG) and whose SubIFD holds the raw
data (a CFA mosaic, uncompressed 16-bit). LibRaw (rawpy) reads it as any camera's DNG: it
rejects raw images under 22 pixels a side, hence 64x64.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image

_BYTE, _ASCII, _SHORT, _LONG, _SRATIONAL = 1, 2, 3, 4, 10


def write_dng(
    path: Path,
    color: tuple[int, int, int] | Image.Image,
    orientation: int = 1,
    preview: bool = True,
    olympus: bool = False,
) -> Path:
    """Write a DNG whose preview is a JPEG of ``color`` (64x48) or of an image; return its path.

    ``orientation`` is the DNG's TIFF orientation tag (what LibRaw reports as its flip);
    ``preview=False`` leaves the preview out. ``olympus`` gives it the header of an Olympus ORF
    (``IIRO`` instead of ``II*``): LibRaw still reads it, Pillow no longer takes it for a TIFF.
    """
    image = color if isinstance(color, Image.Image) else Image.new("RGB", (64, 48), color)
    preview_size = image.size
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    jpeg = buffer.getvalue() if preview else b""
    raw_side = 64
    raw = struct.pack(f"<{raw_side * raw_side}H", *([1000] * raw_side * raw_side))

    def layout(sub: int, jpeg_at: int, raw_at: int, extra0: int, extra1: int):
        first = [
            (254, _LONG, [1 if preview else 0]),
            (256, _LONG, [preview_size[0]]),
            (257, _LONG, [preview_size[1]]),
            (258, _SHORT, [8, 8, 8]),
            (259, _SHORT, [7]),  # JPEG
            (262, _SHORT, [6]),  # YCbCr
            (271, _ASCII, b"catsort\0"),
            (272, _ASCII, b"test\0"),
            (273, _LONG, [jpeg_at]),
            (274, _SHORT, [orientation]),
            (277, _SHORT, [3]),
            (278, _LONG, [preview_size[1]]),
            (279, _LONG, [len(jpeg)]),
            (330, _LONG, [sub]),  # SubIFDs: the raw image
            (50706, _BYTE, [1, 4, 0, 0]),  # DNGVersion
            (50708, _ASCII, b"catsort test\0"),  # UniqueCameraModel
            (
                50721,
                _SRATIONAL,
                [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1)] + [(0, 1), (1, 1)],
            ),  # ColorMatrix1
            (50778, _SHORT, [21]),  # CalibrationIlluminant1: D65
        ]
        if not preview:  # no preview: the first IFD carries nothing but the tags
            first = [entry for entry in first if entry[0] not in (273, 279)]
        mosaic = [
            (254, _LONG, [0]),
            (256, _LONG, [raw_side]),
            (257, _LONG, [raw_side]),
            (258, _SHORT, [16]),
            (259, _SHORT, [1]),
            (262, _SHORT, [32803]),  # CFA
            (273, _LONG, [raw_at]),
            (277, _SHORT, [1]),
            (278, _LONG, [raw_side]),
            (279, _LONG, [len(raw)]),
            (284, _SHORT, [1]),
            (33421, _SHORT, [2, 2]),  # CFARepeatPatternDim
            (33422, _BYTE, [0, 1, 1, 2]),  # CFAPattern: RGGB
            (50717, _LONG, [4095]),  # WhiteLevel
        ]
        return _ifd(first, extra0), _ifd(mosaic, extra1)

    (ifd0, extra0), (ifd1, extra1) = layout(0, 0, 0, 0, 0)
    at_ifd0 = 8
    at_extra0 = at_ifd0 + len(ifd0)
    at_ifd1 = at_extra0 + len(extra0)
    at_extra1 = at_ifd1 + len(ifd1)
    at_jpeg = at_extra1 + len(extra1)
    at_raw = at_jpeg + len(jpeg) + len(jpeg) % 2
    (ifd0, extra0), (ifd1, extra1) = layout(at_ifd1, at_jpeg, at_raw, at_extra0, at_extra1)
    magic = b"IIRO" if olympus else b"II*\0"
    data = magic + struct.pack("<I", at_ifd0) + ifd0 + extra0 + ifd1 + extra1
    data += jpeg + b"\0" * (len(jpeg) % 2) + raw
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _ifd(entries: list, extra_at: int) -> tuple[bytes, bytes]:
    """One TIFF IFD (entries sorted by tag) and the values too big for it, stored at extra_at."""
    out = struct.pack("<H", len(entries))
    extra = b""
    for tag, kind, values in sorted(entries, key=lambda entry: entry[0]):
        if kind in (_BYTE, _ASCII):
            data, count = bytes(values), len(values)
        elif kind == _SRATIONAL:
            data = b"".join(struct.pack("<ii", n, d) for n, d in values)
            count = len(values)
        else:
            data = b"".join(struct.pack("<H" if kind == _SHORT else "<I", v) for v in values)
            count = len(values)
        if len(data) <= 4:
            out += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\0")
        else:
            out += struct.pack("<HHII", tag, kind, count, extra_at + len(extra))
            extra += data + b"\0" * (len(data) % 2)
    return out + struct.pack("<I", 0), extra
