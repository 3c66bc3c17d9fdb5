"""What crosses from a sample to the zygote: length-prefixed frames, PNG checks and the schema of the record.

A sample reports over a pipe the zygote owns, never through files: one JSON record, then one frame per figure
(PNG bytes, or a plotly figure's JSON). Whatever arrives is checked here, against types and size caps; a
record that fails is the sample's `ProtocolError`, never a crash. Standalone (standard library only): it is
bound into the sandbox beside the zygote, and the host uses the same checks on what the zygote hands back.
"""

from __future__ import annotations

import json
import struct

MAX_FIGURES = 20  # PNG images and plotly figures together
MAX_IMAGE_BYTES = 8 << 20
MAX_IMAGE_SIDE = 10_000  # pixels, each way
MAX_PLOTLY_BYTES = 8 << 20
MAX_PLOT_FACTS_BYTES = 256 << 10
MAX_TEXT = {"error_type": 200, "error": 2000, "note": 300}
MAX_NOTES = 20
MAX_RECORD_BYTES = (64 << 10) + MAX_FIGURES * MAX_PLOT_FACTS_BYTES
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LENGTH = struct.Struct(">I")
KINDS = {"png": MAX_IMAGE_BYTES, "plotly": MAX_PLOTLY_BYTES}


class ProtocolError(ValueError):
    """What a sample sent does not follow the protocol."""


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG within the caps; raises ProtocolError otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ProtocolError(f"image of {len(data):,} bytes (cap {MAX_IMAGE_BYTES:,})")
    if not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR" or len(data) < 24:
        raise ProtocolError("image is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ProtocolError(f"image of {width}×{height} px (cap {MAX_IMAGE_SIDE} px a side)")
    return width, height


def _text(record: dict, key: str, cap: int) -> str | None:
    value = record.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > cap):
        raise ProtocolError(f"record field {key!r} is not a string of at most {cap} characters")
    return value


def parse_record(data: bytes) -> dict:
    """The sample's record, checked: `exit` (0-255), `error_type`, `error`, `notes` (what the harness
    dropped, say), `figures` (`kind` png or plotly, `plot_facts` JSON text or null), nothing else."""
    try:
        record = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"record is not JSON: {str(err)[:100]}") from None
    if not isinstance(record, dict) or set(record) != {"exit", "error_type", "error", "notes", "figures"}:
        raise ProtocolError("record does not have exactly the fields exit, error_type, error, notes, figures")
    exit_ = record["exit"]
    if type(exit_) is not int or not 0 <= exit_ <= 255:
        raise ProtocolError("record field 'exit' is not an integer from 0 to 255")
    notes, figures = record["notes"], record["figures"]
    if not isinstance(notes, list) or len(notes) > MAX_NOTES or \
            any(not isinstance(n, str) or len(n) > MAX_TEXT["note"] for n in notes):
        raise ProtocolError(f"record field 'notes' is not a list of at most {MAX_NOTES} short strings")
    if not isinstance(figures, list) or len(figures) > MAX_FIGURES:
        raise ProtocolError(f"record field 'figures' is not a list of at most {MAX_FIGURES}")
    for figure in figures:
        if not isinstance(figure, dict) or set(figure) != {"kind", "plot_facts"} or figure["kind"] not in KINDS:
            raise ProtocolError("a figure is not {kind: png|plotly, plot_facts}")
        facts = figure["plot_facts"]
        if facts is not None and (not isinstance(facts, str) or len(facts.encode()) > MAX_PLOT_FACTS_BYTES):
            raise ProtocolError(f"a figure's plot_facts is not JSON text of at most {MAX_PLOT_FACTS_BYTES:,} bytes")
    return {"exit": exit_, "error_type": _text(record, "error_type", MAX_TEXT["error_type"]),
            "error": _text(record, "error", MAX_TEXT["error"]), "notes": notes, "figures": figures}


class FrameReader:
    """Frames as they arrive on the sample's result pipe: the record first, then one frame per figure it
    lists, each within its cap; anything else raises ProtocolError at once (no unbounded buffering)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.record: dict | None = None
        self.payloads: list[bytes] = []

    def _cap(self) -> int:
        if self.record is None:
            return MAX_RECORD_BYTES
        if len(self.payloads) >= len(self.record["figures"]):
            return -1  # nothing more is expected
        return KINDS[self.record["figures"][len(self.payloads)]["kind"]]

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= LENGTH.size:
            (size,) = LENGTH.unpack_from(self.buffer)
            cap = self._cap()
            if cap < 0:
                raise ProtocolError("data after the last figure")
            if size > cap:
                raise ProtocolError(f"a frame of {size:,} bytes (cap {cap:,})")
            if len(self.buffer) < LENGTH.size + size:
                return
            payload = bytes(self.buffer[LENGTH.size:LENGTH.size + size])
            del self.buffer[:LENGTH.size + size]
            if self.record is None:
                self.record = parse_record(payload)
            else:
                self.payloads.append(payload)

    def finish(self) -> dict:
        """The record with its figures (`png` bytes checked, `plotly` JSON text) once the pipe is closed."""
        if self.record is None:
            raise ProtocolError("no result record (the sample closed or never wrote its result channel)")
        if self.buffer or len(self.payloads) != len(self.record["figures"]):
            raise ProtocolError("the result channel ended in the middle of a frame")
        for figure, payload in zip(self.record["figures"], self.payloads, strict=True):
            if figure["kind"] == "png":
                png_size(payload)
                figure["data"] = payload
            else:
                try:
                    figure["data"] = payload.decode("utf-8")
                except UnicodeDecodeError:
                    raise ProtocolError("a plotly figure is not UTF-8 text") from None
        return self.record
