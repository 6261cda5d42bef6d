"""Write small real HEIC files for tests, with the libraries phones' files are read with.

``write_heic`` saves with pillow-heif, whose thumbnails (libheif's) are scaled copies of the
image, as a phone's are. ``write_heic_with_thumbnail`` calls libheif itself (through ctypes, the
copy pillow-heif's wheel ships) to give an image a thumbnail made from another picture: a
letterboxed one, as some cameras write (strukturag/libheif issue 1406), or one of another aspect
ratio or rotation. ``heif_enc`` runs Debian's ``heif-enc -t 320`` (libheif-examples), a writer
other than pillow-heif. The damage helpers change a few bytes of such a file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import pillow_heif
except ImportError:  # pragma: no cover - a declared dependency
    pillow_heif = None


def write_heic(
    path: Path,
    image: Image.Image,
    *,
    thumbnail: int | None = 320,
    orientation: int = 1,
    quality: int = 90,
    tile_size: int = 0,
) -> Path:
    """Save ``image`` as HEIC with a thumbnail of at most ``thumbnail`` pixels a side (or none).

    ``orientation`` (EXIF's 1-8) is written as the HEIF rotation and mirroring (irot, imir) of
    the image and its thumbnail: the stored pixels are turned so that a reader applying them
    shows ``image`` as given turned by that orientation, as a JPEG with that tag would be.
    ``tile_size`` > 0 writes a grid of tiles, as phones do.
    """
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(
        path,
        format="HEIF",
        quality=quality,
        thumbnails=[thumbnail] if thumbnail else [],
        exif=exif.tobytes(),  # bytes: pillow-heif reads the orientation only from bytes
        tile_size=tile_size,
    )
    return path


def heif_enc(path: Path, image: Image.Image, thumbnail: int = 320) -> Path | None:
    """Encode ``image`` with ``heif-enc -t THUMBNAIL``; None where heif-enc is not installed."""
    tool = shutil.which("heif-enc")
    if tool is None:
        return None
    source = path.with_suffix(".source.png")
    image.save(source)
    subprocess.run(
        [tool, "-q", "90", "-t", str(thumbnail), str(source), "-o", str(path)],
        check=True,
        capture_output=True,
    )
    source.unlink()
    return path


def write_heic_with_thumbnail(
    path: Path,
    image: Image.Image,
    thumbnail: Image.Image,
    *,
    box: int = 320,
    orientation: int = 1,
) -> Path:
    """Save ``image`` as HEIC whose thumbnail is ``thumbnail`` shrunk to fit ``box`` pixels.

    ``thumbnail`` must be larger than ``box`` (libheif only ever shrinks). ``orientation``
    (EXIF's 1-8) is given to the image alone, never to the thumbnail. Raises RuntimeError where
    no libheif with an HEVC encoder can be loaded.
    """
    lib = _libheif()
    context = lib.heif_context_alloc()
    encoder = ctypes.c_void_p()
    handles: list[ctypes.c_void_p] = []
    try:
        _check(lib.heif_context_get_encoder_for_format(context, 1, ctypes.byref(encoder)))  # HEVC
        _check(lib.heif_encoder_set_lossy_quality(encoder, 90))
        options = lib.heif_encoding_options_alloc()
        try:
            if orientation != 1:
                _set_orientation(options, orientation)
            primary = _heif_image(lib, image)
            handle = ctypes.c_void_p()
            out = ctypes.byref(handle)
            _check(lib.heif_context_encode_image(context, primary, encoder, options, out))
            handles.append(handle)
            lib.heif_image_release(primary)
        finally:
            lib.heif_encoding_options_free(options)
        small = _heif_image(lib, thumbnail)
        thumb = ctypes.c_void_p()
        _check(
            lib.heif_context_encode_thumbnail(
                context, small, handle, encoder, None, box, ctypes.byref(thumb)
            )
        )
        lib.heif_image_release(small)
        if not thumb.value:
            raise RuntimeError(f"libheif made no thumbnail: {thumbnail.size} is not over {box}")
        handles.append(thumb)
        _check(lib.heif_context_write_to_file(context, os.fsencode(path)))
    finally:
        for item in handles:
            lib.heif_image_handle_release(item)
        if encoder.value:
            lib.heif_encoder_release(encoder)
        lib.heif_context_free(context)
    return path


def cut(path: Path, keep: int) -> Path:
    """Keep the first ``keep`` bytes of the file (``keep`` < 0: drop that many from its end)."""
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    return path


def without_primary(path: Path) -> Path:
    """Point the file's primary-item box (pitm) at an item that does not exist."""
    data = bytearray(path.read_bytes())
    at = data.find(b"pitm")
    assert at > 0 and data[at + 4] == 0, "a version 0 pitm box, as libheif writes it"
    data[at + 8 : at + 10] = (999).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def alpha_to_depth(path: Path) -> Path:
    """Turn the alpha plane of an RGBA HEIC (an auxiliary image) into a depth map."""
    data = path.read_bytes()
    alpha, depth = b"urn:mpeg:hevc:2015:auxid:1", b"urn:mpeg:hevc:2015:auxid:2"
    assert data.count(alpha) == 1
    path.write_bytes(data.replace(alpha, depth))
    return path


def heic_writer_missing() -> str | None:
    """Why pillow-heif cannot write HEIC here (no HEVC encoder), or None when it can."""
    if pillow_heif is None:
        return "pillow-heif is not installed"
    if not pillow_heif.libheif_info().get("HEIF"):
        return "pillow-heif's libheif has no HEVC encoder (x265)"
    return None


def libheif_available() -> str | None:
    """Why ``write_heic_with_thumbnail`` cannot run here, or None when it can."""
    if heic_writer_missing():
        return heic_writer_missing()
    try:
        _libheif()
    except (OSError, RuntimeError) as exc:
        return str(exc)
    return None


# --- libheif through ctypes ---------------------------------------------------------------------


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("subcode", ctypes.c_int), ("message", ctypes.c_char_p)]


_POINTER = ctypes.c_void_p
_SIGNATURES = {
    "heif_context_alloc": ([], _POINTER),
    "heif_context_free": ([_POINTER], None),
    "heif_image_create": (
        [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_POINTER)],
        _Error,
    ),
    "heif_image_add_plane": (
        [_POINTER, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
        _Error,
    ),
    "heif_image_get_plane": (
        [_POINTER, ctypes.c_int, ctypes.POINTER(ctypes.c_int)],
        ctypes.POINTER(ctypes.c_uint8),
    ),
    "heif_image_release": ([_POINTER], None),
    "heif_context_get_encoder_for_format": (
        [_POINTER, ctypes.c_int, ctypes.POINTER(_POINTER)],
        _Error,
    ),
    "heif_encoder_set_lossy_quality": ([_POINTER, ctypes.c_int], _Error),
    "heif_encoder_release": ([_POINTER], None),
    "heif_encoding_options_alloc": ([], _POINTER),
    "heif_encoding_options_free": ([_POINTER], None),
    "heif_context_encode_image": (
        [_POINTER, _POINTER, _POINTER, _POINTER, ctypes.POINTER(_POINTER)],
        _Error,
    ),
    "heif_context_encode_thumbnail": (
        [_POINTER, _POINTER, _POINTER, _POINTER, _POINTER, ctypes.c_int, ctypes.POINTER(_POINTER)],
        _Error,
    ),
    "heif_context_write_to_file": ([_POINTER, ctypes.c_char_p], _Error),
    "heif_image_handle_release": ([_POINTER], None),
}
_COLORSPACE_RGB, _CHROMA_INTERLEAVED_RGB, _CHANNEL_INTERLEAVED = 1, 10, 10
_loaded: ctypes.CDLL | None = None


def _libheif() -> ctypes.CDLL:
    """libheif: the copy inside pillow-heif's wheel, else the system's."""
    global _loaded
    if _loaded is not None:
        return _loaded
    candidates = []
    if pillow_heif is not None:
        package = Path(pillow_heif.__file__).parent
        for folder in (package.parent / "pillow_heif.libs", package / ".dylibs", package):
            candidates += sorted(glob.glob(str(folder / "libheif*")))
    system = ctypes.util.find_library("heif")
    if system:
        candidates.append(system)
    if not candidates:
        raise RuntimeError("no libheif shared library found (pillow-heif's or the system's)")
    lib = ctypes.CDLL(candidates[0])
    for name, (arguments, result) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes = arguments
        function.restype = result
    _loaded = lib
    return lib


def _check(error: _Error) -> None:
    if error.code:
        raise RuntimeError(f"libheif: {(error.message or b'').decode()}")


def _heif_image(lib: ctypes.CDLL, image: Image.Image) -> ctypes.c_void_p:
    """A libheif image holding the RGB pixels of ``image``."""
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    height, width, _ = pixels.shape
    out = ctypes.c_void_p()
    rgb = (_COLORSPACE_RGB, _CHROMA_INTERLEAVED_RGB)
    _check(lib.heif_image_create(width, height, *rgb, ctypes.byref(out)))
    _check(lib.heif_image_add_plane(out, _CHANNEL_INTERLEAVED, width, height, 8))
    stride = ctypes.c_int()
    plane = lib.heif_image_get_plane(out, _CHANNEL_INTERLEAVED, ctypes.byref(stride))
    buffer = (ctypes.c_uint8 * (stride.value * height)).from_address(
        ctypes.addressof(plane.contents)
    )
    rows = np.frombuffer(buffer, dtype=np.uint8).reshape(height, stride.value)
    rows[:, : width * 3] = pixels.reshape(height, width * 3)
    return out


def _set_orientation(options: int, orientation: int) -> None:
    """Set heif_encoding_options.image_orientation (struct version 5 and later)."""
    version = ctypes.c_uint8.from_address(options).value
    if version < 5:
        raise RuntimeError(f"libheif's encoding options (version {version}) have no orientation")
    # uint8 version, save_alpha_channel, macOS_compatibility_workaround,
    # save_two_colr_boxes...; a pointer (output_nclx_profile); uint8 macOS..._no_nclx_profile;
    # then the enum image_orientation, aligned to 4 bytes.
    pointer = ctypes.sizeof(ctypes.c_void_p)
    offset = pointer + pointer + 4  # 4 bytes + padding to the pointer, the pointer, 1 byte + 3
    ctypes.c_int.from_address(options + offset).value = orientation
