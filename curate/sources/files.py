"""Readers for local files: JSONL (plain, gzip, zstd), JSON arrays, CSV and Parquet.

Real files are messy, and a bad part of one never takes the good rows with it: a bad line or record is
rejected alone, and a file that stops being readable part-way (a truncated or corrupt `.gz`/`.zst`, a
broken Parquet row group) keeps the rows before the damage and ends with one `corrupt_file` reject.
A UTF-8 byte-order mark is skipped; text in UTF-16/32 is one clear reject, not a row of mojibake.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curate.sources.base import RawRow, rejected
from curate.stage import Unit

CHUNK_BYTES = 32 * 1024 * 1024  # plain JSONL files are cut into units of about this size
MAX_ROW_BYTES = 16 * 1024 * 1024
# Rows nested deeper are rejected (`too_deep`): Parquet cannot store list columns much deeper (its schema
# depth limit is 100 and a list takes two levels), and real records are nowhere near this.
MAX_DEPTH = 32
UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
              (b"\xfe\xff", "UTF-16"))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800-\udfff: fine in pairs, invalid alone


class TruncatedStream(EOFError):
    """A compressed stream that ends inside a frame."""


# What a damaged compressed file raises while being read (BadGzipFile is an OSError; zlib.error a corrupt
# deflate stream; EOFError a truncated gzip member).
READ_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, zstandard.ZstdError)


class _ZstdReader(io.RawIOBase):
    """Decompresses every frame of a `.zst` file, and raises on a truncated one, which zstandard's own
    stream_reader ends silently (rows lost with no trace)."""

    INPUT_CHUNK = 16 * 1024  # compressed bytes per step: bounds the output of one step (zstd ratios reach ~30000:1)

    def __init__(self, path: Path):
        self._file = open(path, "rb")
        self._frame: Any = None
        self._pending, self._at = b"", 0  # decompressed bytes not yet handed out, from offset `_at`

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at == len(self._pending):
            rest = b""
            if self._frame is not None and self._frame.eof:  # a frame ended: the next may follow at once
                rest, self._frame = self._frame.unused_data, None
            chunk = rest or self._file.read(self.INPUT_CHUNK)
            if not chunk:
                if self._frame is not None:
                    raise TruncatedStream("the zstd stream ends in the middle of a frame (truncated file)")
                return 0
            if self._frame is None:
                self._frame = zstandard.ZstdDecompressor().decompressobj()
            self._pending, self._at = self._frame.decompress(chunk), 0
        size = min(len(buffer), len(self._pending) - self._at)
        buffer[:size] = memoryview(self._pending)[self._at:self._at + size]
        self._at += size
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def open_binary(path: Path) -> IO[bytes]:
    """`path` decompressed by its suffix (`.gz`, `.zst`, `.zstd`), as a buffered binary stream."""
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith((".zst", ".zstd")):
        return io.BufferedReader(_ZstdReader(path), buffer_size=1 << 20)
    return open(path, "rb")


def damage(err: BaseException) -> str:
    """Why a compressed file could not be read on, in words."""
    if isinstance(err, gzip.BadGzipFile):
        return "not gzip data"
    if isinstance(err, TruncatedStream):
        return str(err)
    if isinstance(err, EOFError):
        return "the compressed stream ends early (truncated file)"
    return f"corrupt compressed data ({err})"


def wide_encoding(head: bytes) -> str | None:
    """A message when `head` (a file's first bytes) starts with a UTF-16 or UTF-32 byte-order mark."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return f"the file is {name} text; curate reads UTF-8 (convert it: iconv -f {name} -t UTF-8)"
    return None


def jsonl_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    """Plain JSONL is cut at newlines into chunks; compressed files are one unit each."""
    size = path.stat().st_size
    if path.suffix in {".gz", ".zst", ".zstd"} or size <= CHUNK_BYTES:
        return [Unit(key=f"{key}-00000", path=str(path), offset=0, length=None, extra={"first_line": 1})]
    bounds, lines = [0], [1]
    with open(path, "rb") as handle:
        while bounds[-1] + CHUNK_BYTES < size:
            handle.seek(bounds[-1] + CHUNK_BYTES)
            handle.readline()
            if handle.tell() >= size:
                break
            bounds.append(handle.tell())
        # line numbers of each chunk's first line, for readable reject locations
        handle.seek(0)
        for start, end in zip(bounds, bounds[1:], strict=False):
            lines.append(lines[-1] + handle.read(end - start).count(b"\n"))
    ends = bounds[1:] + [size]
    return [Unit(key=f"{key}-{i:05d}", path=str(path), offset=start, length=end - start,
                 extra={"first_line": line})
            for i, (start, end, line) in enumerate(zip(bounds, ends, lines, strict=True))]


def read_jsonl(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    path = Path(unit.path)
    name = path.name
    max_bytes = options.get("max_row_bytes", MAX_ROW_BYTES)
    number = unit.extra.get("first_line", 1)  # of the line being read
    try:
        with open_binary(path) as handle:
            if unit.offset:
                handle.seek(unit.offset)
            elif problem := wide_encoding(handle.peek(4)[:4]):
                yield rejected(path.name, "invalid_utf8", problem)
                return
            remaining = unit.length
            while remaining is None or remaining > 0:
                line = handle.readline(max_bytes + 2)
                if not line:
                    break
                if remaining is not None:
                    remaining -= len(line)
                if number == 1:
                    line = line.removeprefix(UTF8_BOM)
                location = f"{name}:{number}"
                if len(line) > max_bytes and not line.endswith(b"\n") or len(line.rstrip(b"\r\n")) > max_bytes:
                    skipped = len(line)
                    while not line.endswith(b"\n"):  # drain the rest of the oversized line
                        line = handle.readline(1 << 20)
                        if not line:
                            break
                        skipped += len(line)
                        if remaining is not None:
                            remaining -= len(line)
                    number += 1
                    yield rejected(location, "oversized", f"row of {skipped:,} bytes exceeds the limit of {max_bytes:,}")
                    continue
                number += 1
                if line.strip():
                    yield parse_json_object(line, location)
    except READ_ERRORS as err:
        yield rejected(f"{name}:{number}", "corrupt_file", f"{damage(err)}; nothing after this line can be read")


def parse_json_object(line: bytes, location: str) -> RawRow:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return rejected(location, "invalid_utf8", f"not valid UTF-8 at byte {err.start}", line.decode("utf-8", "replace"))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return rejected(location, "malformed_json", f"{err.msg} at column {err.colno}", text)
    except RecursionError:
        return rejected(location, "too_deep", f"nested deeper than {MAX_DEPTH} levels", text)
    # the walks below cost as much as parsing: skip them when the bytes show they cannot find anything
    return checked(value, location, text, may_be_deep=line.count(b"[") + line.count(b"{") > MAX_DEPTH,
                   may_hold_surrogates=bool(_SURROGATE_ESCAPE.search(line)))


def checked(value: Any, location: str, text: str | None = None, *, may_be_deep: bool = True,
            may_hold_surrogates: bool = True) -> RawRow:
    """A parsed JSON value as a row, or the reason it cannot be one (`text`: its source, for the payload)."""
    if not isinstance(value, dict):
        return rejected(location, "not_an_object", f"expected a JSON object, got {type(value).__name__}",
                        text or _payload(value))
    if may_be_deep and nested_deeper(value, MAX_DEPTH):
        return rejected(location, "too_deep", f"nested deeper than {MAX_DEPTH} levels", text)
    if may_hold_surrogates and (lone := lone_surrogate(value)):
        return rejected(location, "invalid_utf8", f"lone surrogate escape {lone}: not valid Unicode text",
                        text or _payload(value))
    return RawRow(location=location, raw=value)


def lone_surrogate(value: Any) -> str | None:
    """The first unpaired surrogate (from a `\\ud800`-style escape) in `value`'s strings, escaped; such text
    cannot be written as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        return err.object[err.start:err.end].encode("unicode_escape").decode()
    return None


def _payload(value: Any) -> str:
    return json.dumps(value, default=str)  # ASCII escapes: lone surrogates survive as text


def nested_deeper(value: Any, limit: int) -> bool:
    """Whether `value` has containers more than `limit` levels deep (the value itself is level 1)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_json_file(path: Path, location: str | None = None) -> tuple[Any, RawRow | None]:
    """A whole JSON file's value (also `.gz`/`.zst`), or the reject saying why it cannot be read."""
    location = location or path.name
    try:
        with open_binary(path) as handle:
            data = handle.read()
    except READ_ERRORS as err:
        return None, rejected(location, "corrupt_file", damage(err))
    if problem := wide_encoding(data[:4]):
        return None, rejected(location, "invalid_utf8", problem)
    try:
        value = json.loads(data.removeprefix(UTF8_BOM).decode("utf-8"))
    except UnicodeDecodeError as err:
        return None, rejected(location, "invalid_utf8", f"not valid UTF-8 at byte {err.start}")
    except json.JSONDecodeError as err:
        return None, rejected(location, "malformed_json", f"{err.msg} at line {err.lineno} column {err.colno}",
                              data.decode("utf-8", "replace"))
    except RecursionError:
        return None, rejected(location, "too_deep", f"nested deeper than {MAX_DEPTH} levels")
    return value, None


def read_json_array(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    path = Path(unit.path)
    value, failure = load_json_file(path)
    if failure:
        reason, message = failure.reject.reason, failure.reject.message
        if reason == "malformed_json" and message.startswith("Extra data"):
            yield from read_jsonl(unit, options)  # JSON Lines in a .json file, as `datasets` also reads them
        elif reason == "too_deep":
            yield from _items_one_by_one(path)  # one item too deep for the parser: keep the others
        else:
            yield failure
        return
    if isinstance(value, dict):  # a single object, or {"data": [...]}-style wrappers
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else [value]
    if not isinstance(value, list):
        yield rejected(path.name, "not_an_object", "expected a JSON array of objects")
        return
    surrogates = lone_surrogate(value) is not None
    for index, item in enumerate(value):
        yield checked(item, f"{path.name}[{index}]", may_hold_surrogates=surrogates)


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _items_one_by_one(path: Path) -> Iterator[RawRow]:
    """The items of a top-level JSON array parsed one at a time, so that one nested past what the parser
    can take is rejected alone. Only for that case: it walks the text token by token."""
    with open_binary(path) as handle:
        text = handle.read().removeprefix(UTF8_BOM).decode("utf-8")
    if not text.lstrip().startswith("["):
        yield rejected(path.name, "too_deep", f"nested deeper than {MAX_DEPTH} levels")
        return
    depth, start, index = 0, 0, 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()
        if char[0] == '"':
            continue
        if char in "[{":
            depth += 1
            start = token.end() if depth == 1 else start
            continue
        if depth == 1:  # a comma or the closing bracket of the array: an item ends here
            if item := text[start:token.start()].strip():
                yield parse_json_object(item.encode(), f"{path.name}[{index}]")
                index += 1
            start = token.end()
        depth -= char != ","


# ----- CSV --------------------------------------------------------------------------------------
class RowTooLarge(Exception):
    """The CSV record being read has passed --max-row-bytes."""


class _CsvLines:
    """Lines for `csv.reader`, bounded so that an oversized record (or a stray quote swallowing the file)
    stops at --max-row-bytes, not at memory's end. Kept lean: it runs once per line."""

    def __init__(self, text: IO[str], max_bytes: int):
        self.text, self.max_bytes = text, max_bytes
        self.record: list[str] = []  # the lines of the record being read (the csv module holds them anyway)
        self.size = 0  # its characters: a bound on memory; `read_csv` checks a parsed record's bytes
        self.skipped = 0  # lines read past the csv module while skipping oversized records

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.max_bytes + 1)
        if not line:
            raise StopIteration
        self.record.append(line)
        self.size += len(line)
        if self.size > self.max_bytes:
            raise RowTooLarge
        return line

    def start_record(self) -> None:
        self.record, self.size = [], 0

    def drain(self) -> int:
        """Skip the rest of the current record; its size in characters. The record ends at a line end outside
        quotes: with doubled quotes as escapes, where the count of quote characters so far is even."""
        quotes = sum(line.count('"') for line in self.record)
        line = self.record[-1]
        while not (line.endswith(("\n", "\r")) and quotes % 2 == 0):
            line = self.text.readline(1 << 20)
            if not line:
                break
            self.size += len(line)
            quotes += line.count('"')
            self.skipped += line.endswith(("\n", "\r"))
        self.skipped += self.record[-1].endswith(("\n", "\r"))  # the line the reader was refused: not counted
        return self.size


def read_csv(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    path = Path(unit.path)
    max_bytes = options.get("max_row_bytes", MAX_ROW_BYTES)
    csv.field_size_limit(max(csv.field_size_limit(), max_bytes + 1))  # our own bound comes first
    lines: _CsvLines | None = None
    try:
        with open_binary(path) as binary:
            if problem := wide_encoding(binary.peek(4)[:4]):
                yield rejected(path.name, "invalid_utf8", problem)
                return
            # undecodable bytes become lone surrogates that mark their record as bad, and reading goes on
            lines = _CsvLines(io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline=""),
                              max_bytes)
            reader = csv.reader(lines)
            header: list[str] | None = None
            while True:
                lines.start_record()
                location = f"{path.name}:{reader.line_num + lines.skipped + 1}"
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except RowTooLarge:
                    size = lines.drain()
                    yield rejected(location, "oversized", f"row of {size:,}+ characters exceeds the limit of {max_bytes:,} bytes")
                    continue
                except csv.Error as err:
                    yield rejected(location, "malformed_csv", str(err))
                    continue
                if not any(fields):  # blank lines and rows of empty fields carry nothing
                    continue
                if header is None:
                    header = _column_names([_readable(f) for f in fields])
                else:
                    yield _csv_row(fields, header, lines.size, location, max_bytes)
    except READ_ERRORS as err:
        where = f"{path.name}:{reader.line_num + lines.skipped + 1}" if lines else path.name
        yield rejected(where, "corrupt_file", f"{damage(err)}; nothing after this line can be read")


UNDECODABLE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of a byte that is not UTF-8


def _csv_row(fields: list[str], header: list[str], chars: int, location: str, max_bytes: int) -> RawRow:
    if any(map(UNDECODABLE.search, fields)):
        return rejected(location, "invalid_utf8", "not valid UTF-8", ",".join(_readable(f) for f in fields))
    if chars * 4 > max_bytes and (size := sum(len(f.encode()) + 1 for f in fields)) > max_bytes:
        return rejected(location, "oversized", f"row of {size:,} bytes exceeds the limit of {max_bytes:,}")
    if len(fields) != len(header):
        return rejected(location, "malformed_csv", f"{len(fields)} fields where the header has {len(header)}",
                        ",".join(fields))
    return RawRow(location=location, raw={k: (v if v != "" else None) for k, v in zip(header, fields, strict=True)})


def _readable(text: str) -> str:
    """Text with the bytes that were not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _column_names(header: list[str]) -> list[str]:
    """Header names made unique (`a`, `a.1`, as pandas does) and never empty, so no column is dropped."""
    names: list[str] = []
    for index, name in enumerate(header):
        name = name.strip() or f"column_{index + 1}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
    return names


# ----- Parquet ----------------------------------------------------------------------------------
PARQUET_ERRORS = (pa.ArrowException, OSError, UnicodeDecodeError)


def parquet_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    """One unit per row group; a file that is not Parquet is one unit, whose reading rejects it."""
    try:
        groups = pq.ParquetFile(path).metadata.num_row_groups
    except PARQUET_ERRORS:
        groups = 1
    return [Unit(key=f"{key}-{g:05d}", path=str(path), offset=g) for g in range(max(groups, 1))]


def read_parquet(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    name = Path(unit.path).name
    try:
        file = pq.ParquetFile(unit.path)
    except PARQUET_ERRORS as err:
        size = Path(unit.path).stat().st_size
        yield rejected(name, "corrupt_file", f"not a readable Parquet file ({size:,} bytes): {err}")
        return
    meta = file.metadata
    if not meta.num_row_groups:
        return
    base = sum(meta.row_group(g).num_rows for g in range(unit.offset))
    try:
        rows = file.read_row_group(unit.offset).to_pylist()
    except PARQUET_ERRORS as err:
        yield rejected(f"{name}#{base}", "corrupt_file",
                       f"row group {unit.offset} ({meta.row_group(unit.offset).num_rows:,} rows) cannot be read: {err}")
        return
    for index, row in enumerate(rows):
        yield RawRow(location=f"{name}#{base + index}", raw=row)

