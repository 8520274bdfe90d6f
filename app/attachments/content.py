"""What an upload is, read from its first bytes (never from the client's name or Content-Type), and photos cleaned
of their location before they are kept."""

from __future__ import annotations

import io
import struct
import warnings
from typing import BinaryIO

from PIL import Image

JPEG, PNG, WEBP, HEIC = "image/jpeg", "image/png", "image/webp", "image/heic"
PDF, MP3, M4A, WAV = "application/pdf", "audio/mpeg", "audio/mp4", "audio/wav"
ACCEPTED = (JPEG, PNG, WEBP, HEIC, PDF, MP3, M4A, WAV)
# Enough of the head to read every signature below (an ISO base media file's brands included).
HEAD = 64
GPS_IFD = 0x8825
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
M4A_BRANDS = frozenset({b"M4A ", b"M4B "})
# A photo with a location is decoded to be saved again: a bigger one (or a decompression bomb) is refused.
MAX_PIXELS = 120_000_000


class Unreadable(Exception):
    """An image that names a known type but cannot be read or cleaned; the reason is for the client."""


def sniff(head: bytes) -> str | None:
    """The media type of a content starting with ``head``, if it is one tousu keeps."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"ID3") or _mp3_frame(head):
        return MP3
    if head[4:8] == b"ftyp":
        return _iso_brand(head)
    return None


def _mp3_frame(head: bytes) -> bool:
    # An MPEG audio frame header: 11 sync bits, a known version, layer III, a bitrate that is not "bad".
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer, bitrate = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11, head[2] >> 4
    return version != 0b01 and layer == 0b01 and bitrate != 0b1111


def _iso_brand(head: bytes) -> str | None:
    size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in HEIC_BRANDS or (major in {b"mif1", b"msf1"} and compatible & HEIC_BRANDS):
        return HEIC
    if major in M4A_BRANDS or (major in {b"mp42", b"isom"} and compatible & M4A_BRANDS):
        return M4A
    return None


def without_location(media_type: str, source: BinaryIO) -> bytes | None:
    """The image saved again without its EXIF GPS and its XMP packet (which may repeat the location), or None when
    it carries neither (it is kept as it came). Every other EXIF tag stays: the orientation, the time taken."""
    if media_type == HEIC:
        _refuse_heic_metadata(source)
        return None
    if media_type not in (JPEG, PNG, WEBP):
        return None
    try:
        with warnings.catch_warnings():
            # Opening reads the header and the metadata only; the size is checked below, before any decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
        exif = image.getexif()
        if not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif and not image.info.get("xmp"):
            return None
        if image.width * image.height > MAX_PIXELS:
            raise Unreadable(f"a photo with a location is decoded to remove it: at most {MAX_PIXELS} pixels")
        exif.pop(GPS_IFD, None)
        image.load()
        source.seek(0)
        # A WebP's image chunk comes first (after VP8X and ICCP): VP8L is lossless, VP8 lossy.
        lossless = b"VP8L" in source.read(4096)
        return _saved(image, media_type, exif.tobytes(), lossless)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Unreadable(f"the image cannot be read ({type(exc).__name__})") from None


def _saved(image: Image.Image, media_type: str, exif: bytes, lossless: bool) -> bytes:
    out = io.BytesIO()
    icc = image.info.get("icc_profile")
    if media_type == JPEG:
        # The same quantisation and subsampling as the original: no visible loss from saving it again.
        image.save(out, "JPEG", quality="keep", subsampling="keep", exif=exif, icc_profile=icc)
    elif media_type == PNG:
        image.save(out, "PNG", exif=exif, icc_profile=icc)
    else:
        animated = getattr(image, "n_frames", 1) > 1
        image.save(out, "WEBP", exif=exif, icc_profile=icc, lossless=lossless, quality=95, save_all=animated)
    return out.getvalue()


def _refuse_heic_metadata(source: BinaryIO) -> None:
    """tousu reads HEIC without a decoder: a HEIC photo is kept only when it holds no EXIF item (which may hold the
    location and cannot be removed without decoding); one that does is refused, to be sent as JPEG instead."""
    source.seek(0)
    try:
        items = _heif_item_types(source)
    except (struct.error, ValueError):
        raise Unreadable("the HEIC file's structure cannot be read") from None
    if b"Exif" in items:
        raise Unreadable(
            "a HEIC photo with EXIF metadata (which may hold its location) is not kept: send it as JPEG, or "
            "without metadata"
        )


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ISO base media boxes in ``data``: (type, content)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[offset + 8 : offset + 16])[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data):
            raise ValueError("box runs past its parent")
        boxes.append((kind, data[offset + header : offset + size]))
        offset += size
    return boxes


def _heif_item_types(source: BinaryIO) -> set[bytes]:
    """The item types (``hvc1``, ``Exif``, ``mime``...) a HEIF file's ``meta`` box declares."""
    meta = _top_level_meta(source)
    types: set[bytes] = set()
    for kind, content in _boxes(meta[4:]):  # meta is a full box: version and flags first
        if kind != b"iinf":
            continue
        version = content[0]
        start = 4 + (2 if version == 0 else 4)
        for entry_kind, entry in _boxes(content[start:]):
            if entry_kind != b"infe" or entry[0] < 2:
                continue
            id_size = 2 if entry[0] == 2 else 4
            types.add(entry[4 + id_size + 2 : 4 + id_size + 6])
    return types


def _top_level_meta(source: BinaryIO) -> bytes:
    """The content of the file's top-level ``meta`` box, read box by box (the image data is skipped, not read)."""
    while True:
        header = source.read(8)
        if len(header) < 8:
            raise ValueError("no meta box")
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            size, header_size = struct.unpack(">Q", source.read(8))[0], 16
        if size == 0 and kind != b"meta":
            raise ValueError("no meta box")
        if kind == b"meta":
            if size == 0 or size - header_size > 16 * 1024 * 1024:
                raise ValueError("meta box of no or too large size")
            meta = source.read(size - header_size)
            if len(meta) < size - header_size:
                raise ValueError("the meta box is cut short")
            return meta
        if size < header_size:
            raise ValueError("bad box size")
        source.seek(size - header_size, io.SEEK_CUR)
