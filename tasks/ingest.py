"""Ingest stage: read a source folder into ``SourceDoc`` records, quarantining what cannot be used.

Only this stage reads sources, and it only reads: nothing in the source folder is ever written,
moved or renamed (archives are read in memory). A file that cannot be used goes to the
quarantine list with a reason a user can act on, and the run goes on with the rest.

Formats and encodings are in ``tasks/readers.py`` and ``tasks/encodings.py``; this module walks
the folder, names the documents (``doc_id``), applies ``manifest.csv`` and counts duplicates
once: the same text (exact) or the same report syndicated by two outlets (near: MinHash of word
5-grams, Jaccard >= 0.8). The first in sorted path order is kept.

For a flow that reads in batches, ``read_path`` reads one file and ``Deduplicator`` keeps the
duplicate state across batches; ``ingest_folder`` is both in a loop.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import regex as re

from tasks.encodings import EncodingError, clean_text, decode_bytes, printable_name
from tasks.normalize import normalize_text
from tasks.readers import (
    Limits,
    Part,
    PartError,
    UnreadableError,
    check_text,
    read_bytes,
    suffix_of,
)
from tasks.records import IngestResult, Quarantined, SourceDoc

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Deduplicator",
    "FileRead",
    "UnreadableError",
    "check_text",
    "ingest_folder",
    "list_sources",
    "read_manifest",
    "read_path",
    "read_source",
]

#: Files of the source folder that are not reports, skipped without a word.
IGNORED_NAMES = frozenset({"manifest.csv", ".ds_store", "thumbs.db", "desktop.ini"})
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


# --- the folder ------------------------------------------------------------------------------


#: The column that names the file, as people write it.
_MANIFEST_NAME_COLUMNS = ("file", "filename", "file_name", "path", "name")


def read_manifest(folder: Path) -> dict[str, dict[str, str]]:
    """Read ``manifest.csv`` (file, province, url, published) if the folder has one.

    Returns:
        Per-file metadata keyed by the file name as written in the manifest (a name, a path
        relative to the folder, or an archive member as ``archive.zip/member.docx``).
    """
    path = folder / "manifest.csv"
    if not path.is_file():
        return {}
    try:
        text, _ = decode_bytes(path.read_bytes())
    except (OSError, EncodingError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
        key = next((k for k in _MANIFEST_NAME_COLUMNS if row.get(k)), "")
        name = unicodedata.normalize("NFC", (row.get(key) or "").strip())
        if name:
            out[name] = {
                k.strip(): clean_text(v).strip()
                for k, v in row.items()
                if k and k != key and isinstance(v, str) and v.strip()
            }
    return out


def list_sources(folder: Path) -> list[Path]:
    """List the candidate files of a source folder, recursively, in a stable order.

    Everything that is not a directory is listed, broken links and special files included,
    so that ``read_path`` can quarantine them with a reason rather than lose them silently.
    Links to directories are not followed (they could loop or leave the folder).
    """
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        base = Path(root)
        found.extend(base / name for name in files if name.lower() not in IGNORED_NAMES)
        found.extend(base / d for d in dirs if (base / d).is_symlink())
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def relative_posix(path: Path, folder: Path) -> str:
    """``path.relative_to(folder).as_posix()``, by string when ``path`` is plainly under
    ``folder`` (pathlib's general case costs tens of microseconds a file).

    Raises:
        ValueError: when ``path`` is not under ``folder``, as ``relative_to`` does.
    """
    base = str(folder)
    whole = str(path)
    if os.sep == "/" and base != "/" and whole.startswith(base + "/"):
        return whole[len(base) + 1 :]
    return path.relative_to(folder).as_posix()


def display_path(rel: str) -> str:
    """A path as text that any CSV or DOCX can hold: bytes that are not UTF-8 and control
    characters shown as \\xNN ("b\\udce1o.txt", a Latin-1 name, -> "b\\\\xe1o.txt")."""
    return printable_name(rel)


# --- document ids ----------------------------------------------------------------------------

MAX_ID = 100
# letters of any script, digits, and . _ - ~ stay; the rest ("Báo cáo (1).txt") becomes "_"
_ID_BAD = re.compile(r"[^\w.~-]+")
_LONE_SURROGATE = re.compile(
    r"[\ud800-\udfff]"
)  # compiled once: a cache lookup per call costs more


def id_segment(name: str) -> str:
    """A safe, stable piece of a doc_id from a file or member name (without its extension).

    Spaces and punctuation become "_"; a leading "-", "+", "=" or "@" too (a spreadsheet
    would take the cell for a formula); bytes that are not UTF-8 in a name become "_"; a long
    name is cut and keeps a hash of the whole: "Báo cáo năm 2023" -> "Báo_cáo_năm_2023".
    """
    text = unicodedata.normalize("NFC", name)
    text = _LONE_SURROGATE.sub("_", text)
    safe = _ID_BAD.sub("_", text).strip("_") or "doc"
    if safe[0] in "-+=@":
        safe = "_" + safe[1:]
    if len(safe) > MAX_ID:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: MAX_ID - 9]}~{digest}"
    return safe


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base[: -len(suffix_of(base))] if suffix_of(base) else base


def part_doc_id(file_name: str, key: str) -> str:
    """The doc_id of a part of a file: the file's stem, "<stem>#<n>" for the n-th record of a
    JSON export, "<zip stem>/<member path stem>" for an archive member."""
    doc_id = id_segment(_stem(file_name))
    segments = key.split("/") if key else []
    record = segments.pop() if segments and segments[-1].isdigit() else ""
    if segments:
        segments[-1] = _stem(segments[-1])
        doc_id += "/" + "/".join(id_segment(seg) for seg in segments)
    return f"{doc_id}#{record}" if record else doc_id


# --- one file --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileRead:
    """What one file gave: its documents, and the parts of it that could not be used."""

    docs: tuple[SourceDoc, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()


def _part_source(rel: str, key: str) -> str:
    if not key:
        return rel
    *members, last = key.split("/")
    if last.isdigit():
        return "/".join([rel, *members]) + f"#{last}"
    return "/".join([rel, key])


def read_path(
    path: Path,
    folder: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    manifest: dict[str, dict[str, str]] | None = None,
) -> FileRead:
    """Read one file of ``folder`` into its documents (several for an archive or JSON export).

    ``manifest`` values win over what the container says; a manifest row for an archive
    applies to its members, a row for a member (``a.zip/b.docx``) to that member alone.

    Raises:
        UnreadableError: when nothing in the file can be used; the message says why.
    """
    rel = display_path(relative_posix(path, folder))
    data = _read_file(path, max_bytes)
    limits = Limits(max_bytes=max_bytes, max_total=max(10 * max_bytes, Limits().max_total))
    found = read_bytes(path.name, data, limits)
    manifest = manifest or {}
    file_meta = manifest.get(rel) or manifest.get(unicodedata.normalize("NFC", path.name)) or {}
    docs: list[SourceDoc] = []
    bad: list[Quarantined] = []
    for part in found:
        source = _part_source(rel, part.key)
        if isinstance(part, PartError):
            bad.append(Quarantined(source, part.reason))
            continue
        member = part.key.split("/")[-1] if part.key else ""
        extra = manifest.get(source) or (manifest.get(member) if member else None) or {}
        docs.append(_doc(path.name, part, source, {**file_meta, **extra}))
    return FileRead(tuple(docs), tuple(bad))


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            try:
                st = path.stat()
            except OSError as err:
                raise UnreadableError("broken link (its target does not exist)") from err
            if stat.S_ISDIR(st.st_mode):
                raise UnreadableError("link to a folder (not followed)")
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableError("not a regular file (device, pipe or socket)")
        if st.st_size > max_bytes:
            raise UnreadableError(f"file too large ({st.st_size} bytes > limit {max_bytes})")
        with path.open("rb") as f:  # read only; never more than the limit, whatever stat said
            # a buffer of the size stat gave (not of the limit: 20 MB allocated per file),
            # then whatever the file grew by since, up to the limit
            data = f.read(min(st.st_size, max_bytes) + 1)
            if len(data) > st.st_size and len(data) <= max_bytes:
                data += f.read(max_bytes + 1 - len(data))
    except OSError as err:
        raise UnreadableError(f"cannot read file: {err.strerror or err}") from err
    if len(data) > max_bytes:
        raise UnreadableError(f"file too large (> limit {max_bytes} bytes)")
    return data


def _doc(file_name: str, part: Part, source: str, extra: dict[str, str]) -> SourceDoc:
    meta = {k: v for k, v in part.meta if v}
    meta.update({k: v for k, v in extra.items() if v})
    return SourceDoc(
        doc_id=part_doc_id(file_name, part.key),
        source=source,
        text=part.text,
        title=part.title,
        meta=tuple(sorted(meta.items())),
        content_hash=content_hash(part.text),
    )


def content_hash(text: str) -> str:
    """sha256 of the text after NFC and whitespace normalisation: the exact-duplicate key."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def read_source(path: Path, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> SourceDoc:
    """Read a file that holds one document (kept for callers of the first version).

    Raises:
        UnreadableError: when the file cannot be used, or holds several documents or a bad
            part (use ``read_path`` for archives and exports).
    """
    got = read_path(path, folder, max_bytes)
    if got.quarantined:
        raise UnreadableError(got.quarantined[0].reason)
    if len(got.docs) != 1:
        raise UnreadableError(f"holds {len(got.docs)} documents: read it with read_path")
    return got.docs[0]


# --- duplicates ------------------------------------------------------------------------------

SHINGLE = 5
NUM_PERM = 128
BANDS = 32
NEAR_THRESHOLD = 0.8
#: A new text whose 5-grams are this much inside an earlier one adds nothing to it (a copy
#: with the last paragraph or the photo captions cut, another outlet's byline added).
CONTAINED_THRESHOLD = 0.9
#: Fewer shingles than this and a text is too short to call a near-duplicate of anything.
MIN_SHINGLES = 20
# fixed: signatures must agree across runs and workers
_SEEDS = np.random.default_rng(20231220).integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit constant (the golden ratio's bits)


_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
#: A signature row ("bin") is named by the top bits of a shingle's hash: 128 bins, 7 bits.
_BIN_SHIFT = np.uint64(64 - NUM_PERM.bit_length() + 1)
_HASH_SEED = np.uint64(0x2545F4914F6CDD1D)
#: Hashes of each shingle. With one, a short text (20-100 shingles for 128 rows) leaves most
#: rows empty and they copy the same few values: on 24,000 pairs of edited bench reports its
#: Jaccard estimate erred more than the 128 hash functions' (mean absolute error 0.0214
#: against 0.0200 on short texts); with four it errs less on short and long texts alike
#: (0.0185 and 0.0253, against 0.0200 and 0.0257), for 4 hashes a shingle instead of 128.
COPIES = 4
_COPY_SEEDS = _SEEDS[:COPIES]


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of each value (a new array): a strong 64-bit mixer, and a
    bijection, so distinct inputs keep distinct outputs."""
    z = values.copy()
    scratch = np.empty_like(z)
    for shift, mul in zip(_SHIFTS, (_MUL1, _MUL2, None), strict=True):
        np.right_shift(z, shift, out=scratch)
        z ^= scratch
        if mul is not None:
            z *= mul
    return z


def _probe_orders() -> np.ndarray:
    """For each signature row, the fixed order in which an empty row looks at the others.

    A pseudo-random permutation of the rows for each row (the order of ``mix64`` of their
    numbers), fixed by arithmetic alone, so that every run and worker densifies alike.
    """
    cells = np.arange(NUM_PERM * NUM_PERM, dtype=np.uint64) + _HASH_SEED
    return np.argsort(mix64(cells).reshape(NUM_PERM, NUM_PERM), axis=1, kind="stable")


_PROBES = _probe_orders()


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-d array by sorting and dropping repeats: the same values, several
    times faster on a report's few hundred shingles (``np.unique`` hashes first)."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _word_table() -> np.ndarray:
    """Whether each code point of the Basic Multilingual Plane is a word character (``\\w``:
    a letter, a digit or a number of any script, or "_"), as a lookup table."""
    chars = "".join(map(chr, range(0x10000)))
    return np.frombuffer(bytes(c.isalnum() or c == "_" for c in chars), dtype=np.uint8).astype(bool)


_WORD_CHAR = _word_table()


def word_bounds(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end of each word (``\\w+`` run) of a text given as its code points, and
    which code points are word characters.

    The same words as ``re.findall(r"\\w+", text)``, found in a few array operations rather
    than a Python object per word: "sáng 27.11, tỉnh" -> [0, 5, 8, 12], [4, 7, 10, 16].
    """
    padded = np.zeros(len(codes) + 2, dtype=bool)  # a non-word on either side
    is_word = padded[1:-1]
    _WORD_CHAR.take(codes, out=is_word, mode="clip")  # above the BMP: 0xFFFF, not a word
    astral = np.flatnonzero(codes > 0xFFFF)
    if len(astral):  # rare (emoji, historic scripts): one by one
        is_word[astral] = [chr(c).isalnum() for c in codes[astral].tolist()]
    # where word and non-word meet: a word's start, then its end, and so on
    bounds = np.flatnonzero(padded[1:] != padded[:-1])
    return bounds[0::2], bounds[1::2], is_word


#: Weight of a word's k-th character in its hash (odd 64-bit numbers), grown on demand.
_weights: list[np.ndarray] = [np.empty(0, dtype=np.uint64)]


def _char_weights(n: int) -> np.ndarray:
    """At least ``n`` weights: the k-th is ``mix64(k + seed) | 1``, however many are made."""
    if len(_weights[0]) < n:
        _weights[0] = mix64(np.arange(max(n, 64), dtype=np.uint64) + _HASH_SEED) | np.uint64(1)
    return _weights[0]


def shingle_hashes(text: str) -> np.ndarray | None:
    """The 64-bit hash of each word 5-gram of ``text`` (lower case, NFC), in text order with
    repeats, or None when the text has too few words to be compared.

    A word's hash mixes the sum of its characters' code points, each times the weight of its
    place in the word; a 5-gram's hash mixes its five word hashes. All of it in array
    operations: a Python string and a dict lookup per word cost ~0.15 ms a report.
    """
    lowered = unicodedata.normalize("NFC", text).lower()
    codes = np.frombuffer(lowered.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends, is_word = word_bounds(codes)
    if len(starts) < SHINGLE + MIN_SHINGLES:
        return None
    lengths = ends - starts
    firsts = np.cumsum(lengths) - lengths  # where each word begins among the word characters
    chars = codes[is_word]
    place = np.arange(len(chars)) - np.repeat(firsts, lengths)
    terms = chars.astype(np.uint64) * _char_weights(int(lengths.max()))[place]
    w = mix64(np.add.reduceat(terms, firsts))
    # a shingle's hash mixes its five word hashes (uint64 arithmetic wraps, as wanted)
    n = len(w) - SHINGLE + 1
    mixed = w[:n].copy()  # = 0 * _MIX + w[0:n]
    for k in range(1, SHINGLE):
        mixed *= _MIX
        mixed += w[k : k + n]
    return mixed


def minhash(text: str) -> tuple[np.ndarray, int] | None:
    """MinHash signature of the word 5-grams of ``text`` (lower case, NFC) and how many
    distinct 5-grams it has, or None when the text is too short to compare.

    One-permutation hashing with optimal densification (Shrivastava, ICML 2017): each shingle
    gets ``COPIES`` strong 64-bit hashes; the top 7 bits of a hash name its row, and a row
    keeps the smallest hash that falls in it. A row that nothing fell in takes the value of
    the first non-empty row in its own fixed probe order. Two texts agree on a row with
    probability their Jaccard similarity, as with 128 independent hash functions (every
    shingle has as many hashes; an empty row of both probes the same order, and the first
    row non-empty in either decides), for 4 hashes a shingle instead of 128: the 128 x
    shingles array cost ~0.3 ms a report.

    Stable across processes (fixed character weights, mixing and probe orders), so batches
    read by different workers can be compared.
    """
    mixed = shingle_hashes(text)
    if mixed is None:
        return None
    shingles = sorted_unique(mixed)
    hashed = mix64(np.add.outer(shingles, _COPY_SEEDS).ravel())
    rows = (hashed >> _BIN_SHIFT).astype(np.intp)
    sig = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(sig, rows, hashed)
    filled = np.bincount(rows, minlength=NUM_PERM) > 0
    empty = np.flatnonzero(~filled)
    if len(empty):
        orders = _PROBES[empty]
        source = orders[np.arange(len(empty)), filled[orders].argmax(axis=1)]
        sig[empty] = sig[source]
    return sig, len(shingles)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One 64-bit key per LSH band of each signature: ``(n, NUM_PERM)`` → ``(n, BANDS)``.

    The band's values are mixed into one number (with the band's own number, so that equal
    values in two bands do not meet). Two documents that share a key are candidates; a
    collision only adds a candidate, which the signature comparison then rejects.
    """
    rows = NUM_PERM // BANDS
    x = np.ascontiguousarray(sigs, dtype=np.uint64).reshape(len(sigs), BANDS, rows)
    # array arithmetic on uint64 wraps silently (no np.errstate: it costs ~0.3 ms a call)
    keys = (x * (_SEEDS[:rows] | np.uint64(1))).sum(axis=2, dtype=np.uint64)
    keys ^= np.arange(1, BANDS + 1, dtype=np.uint64) * _MIX
    return keys


#: Signatures are kept in blocks of this many rows (one array each, not one per document).
SIG_BLOCK = 4096
#: Documents checked one by one wait in a dict until this many, then join the sorted arrays:
#: a dict entry per band per document (32 a document) held ~7 KB a document, the arrays 0.5 KB.
MERGE_EVERY = 4096


@dataclass
class Deduplicator:
    """Keeps what has been read so far and tells whether a new document repeats it.

    Exact: the same text after NFC and whitespace normalisation. Near: estimated Jaccard of
    word 5-grams >= ``threshold``, or the new text's 5-grams nearly all inside an earlier
    text's (``contained``). MinHash with LSH bands: a new document is compared with the few
    candidates that share a band, not with every document read.

    Band keys live in two sorted arrays (key, document), searched with ``np.searchsorted``,
    and the signatures in blocks of rows, so that 100,000 documents take ~60 MB rather than
    ~750 MB. Documents checked one by one wait in a small dict and join the arrays every
    ``MERGE_EVERY`` documents (a merge of two sorted runs); documents known in bulk (a
    store's active documents, ``add_known``) join them at once.
    """

    threshold: float = NEAR_THRESHOLD
    contained: float = CONTAINED_THRESHOLD
    _exact: dict[str, str] = field(default_factory=dict)
    _blocks: list[np.ndarray] = field(default_factory=list)
    _count: int = 0
    _sizes: list[int] = field(default_factory=list)
    _sources: list[str] = field(default_factory=list)
    _pending: dict[int, list[int]] = field(default_factory=dict)
    _pending_keys: list[np.ndarray] = field(default_factory=list)
    _pending_owner: list[int] = field(default_factory=list)
    _bulk_keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    _bulk_owner: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        """Documents registered with a signature."""
        return self._count

    def check(self, doc: SourceDoc) -> tuple[str, str] | None:
        """Register ``doc`` unless it repeats one seen before.

        Returns:
            ("exact" or "near", the source it repeats), or None when it is new.
        """
        key = doc.content_hash or content_hash(doc.text)
        if key in self._exact:
            return "exact", self._exact[key]
        return self.check_parts(key, minhash(doc.text), doc.source)

    def check_parts(
        self, key: str, found: tuple[np.ndarray, int] | None, source: str
    ) -> tuple[str, str] | None:
        """``check`` for a document already hashed and signed (``content_hash``, ``minhash``):
        the streaming flow signs documents in its workers and checks them in one place."""
        if key in self._exact:
            return "exact", self._exact[key]
        if found is not None:
            sig, size = found
            keys = band_keys(sig[None, :])[0]
            candidates = sorted(self._candidates(keys))
            if candidates:
                same = (np.stack([self._sig(j) for j in candidates]) == sig).mean(axis=1)
                hit = self._first_near(list(zip(candidates, same.tolist(), strict=True)), size)
                if hit is not None:
                    return "near", hit
            self._register(sig, size, source, keys)
        self._exact[key] = source
        return None

    def check_batch(
        self, keys: list[str], signed: list[tuple[np.ndarray, int] | None], sources: list[str]
    ) -> list[tuple[str, str] | None]:
        """``check_parts`` for each document in turn, with the same answers and the same state
        after, but the band lookups and signature comparisons of the whole batch done in a few
        array operations: one at a time they cost ~0.35 ms a document in the flow's own
        process, most of it per-call overhead (at 10,000 reports, 3.5 s of a core that the
        extracting workers need).

        Only the decisions go one document at a time: whether an earlier document of the
        batch is a candidate depends on whether it was itself kept.
        """
        # signed and not already known by its exact text (those are answered "exact")
        at = [
            i
            for i, (key, found) in enumerate(zip(keys, signed, strict=True))
            if found is not None and key not in self._exact
        ]
        local = {i: a for a, i in enumerate(at)}
        bkeys = np.empty((0, BANDS), dtype=np.uint64)
        near_known: dict[int, int] = {}  # position in ``at`` -> its earliest near known doc
        new: dict[int, list[tuple[int, float]]] = {}
        if at:
            sigs = np.stack([signed[i][0] for i in at])  # type: ignore[index]
            sizes = np.array([signed[i][1] for i in at], dtype=np.int64)  # type: ignore[index]
            bkeys = band_keys(sigs)
            near_known = self._near_known(*self._similar_known(sigs, bkeys), sizes)
            new = _by_first(*_similar_within(sigs, bkeys))
        kept: dict[int, int] = {}  # position in the batch -> index in this deduplicator
        answers: list[tuple[str, str] | None] = []
        for i, (key, found, source) in enumerate(zip(keys, signed, sources, strict=True)):
            if key in self._exact:
                answers.append(("exact", self._exact[key]))
                continue
            if found is not None:
                a = local[i]  # signed, and its text was not known when the batch began
                # a known document comes before any the batch registers: if one is near, it
                # is the earliest near candidate, the one _first_near would name
                if a in near_known:
                    answers.append(("near", self._sources[near_known[a]]))
                    continue
                _, size = found
                earlier = [(kept[b], same) for b, same in new.get(a, ()) if b in kept]
                hit = self._first_near(earlier, size) if earlier else None
                if hit is not None:
                    answers.append(("near", hit))
                    continue
                kept[a] = self._register(found[0], size, source, bkeys[a])
            self._exact[key] = source
            answers.append(None)
        return answers

    def _first_near(self, candidates: list[tuple[int, float]], size: int) -> str | None:
        """The source of the earliest candidate (by index) near enough: Jaccard over the
        threshold, or the new text nearly all inside it. Candidates are (index, share of equal
        signature rows)."""
        for j, jaccard in sorted(candidates):
            if self._is_near(jaccard, size, self._sizes[j]):
                return self._sources[j]
        return None

    def _is_near(self, jaccard: Any, size: Any, known: Any) -> Any:
        """The near-duplicate rule, for one pair (floats) or many at once (arrays, the same
        float operations): Jaccard over the threshold, or the new text of ``size`` 5-grams
        nearly all inside the known one of ``known``."""
        # |A n B| = J (|A| + |B|) / (1 + J): the share of the new text's 5-grams that are in
        # the earlier text
        inside = jaccard * (size + known) / (1 + jaccard) / size
        return (jaccard >= self.threshold) | (inside >= self.contained)

    def _register(self, sig: np.ndarray, size: int, source: str, keys: np.ndarray) -> int:
        """Keep a new document's signature and band keys; they join the sorted arrays every
        ``MERGE_EVERY`` documents."""
        index = self._store(sig, size, source)
        for k in keys.tolist():
            self._pending.setdefault(k, []).append(index)
        self._pending_keys.append(keys)
        self._pending_owner.append(index)
        if len(self._pending_owner) >= MERGE_EVERY:
            self._merge_pending()
        return index

    def _similar_known(
        self, sigs: np.ndarray, bkeys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row of ``sigs``, index of a known document sharing a band, share of equal rows)."""
        rows = np.repeat(np.arange(len(sigs)), BANDS)
        flat = bkeys.ravel()
        firsts, owners = [], []
        n = self._bulk_keys.size
        if n:
            lo = np.searchsorted(self._bulk_keys, flat)
            count = np.searchsorted(self._bulk_keys, flat, side="right") - lo
            hit = count > 0
            if hit.any():
                firsts.append(np.repeat(rows[hit], count[hit]))
                owners.append(self._bulk_owner[_ranges(lo[hit], count[hit])])
        if self._pending:
            for row, k in zip(rows.tolist(), flat.tolist(), strict=True):
                found = self._pending.get(k)
                if found:
                    firsts.append(np.full(len(found), row))
                    owners.append(np.asarray(found, dtype=np.int64))
        if not firsts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0)
        # unique pairs, sorted by (row, owner): one int64 code each (np.unique(axis=0) of a
        # two-column array sorts a structured view, several times slower)
        span = np.int64(self._count + 1)
        codes = np.unique(np.concatenate(firsts).astype(np.int64) * span + np.concatenate(owners))
        first, owner = codes // span, codes % span
        same = np.empty(len(codes))
        for lo_, hi_ in _chunks(len(codes)):
            same[lo_:hi_] = (sigs[first[lo_:hi_]] == self._gather(owner[lo_:hi_])).mean(axis=1)
        return first, owner, same

    def _near_known(
        self, first: np.ndarray, owner: np.ndarray, same: np.ndarray, sizes: np.ndarray
    ) -> dict[int, int]:
        """For each row with a near known candidate, the earliest one (``_first_near``'s rule
        for all pairs at once, in the same float operations): {row: index}.

        Pairs come sorted by (row, owner), as ``_similar_known`` returns them. At 100,000
        documents a batch of 1,000 has ~100,000 such pairs: grouped into lists and walked in
        Python they were half of ``check_batch``.
        """
        if not len(first):
            return {}
        known = np.asarray(self._sizes, dtype=np.int64)[owner]
        near = self._is_near(same, sizes[first], known)
        row, index = first[near], owner[near]
        lead = np.ones(len(row), dtype=bool)
        lead[1:] = row[1:] != row[:-1]
        return dict(zip(row[lead].tolist(), index[lead].tolist(), strict=True))

    def _gather(self, owners: np.ndarray) -> np.ndarray:
        """The stored signatures of ``owners``, one row each."""
        out = np.empty((len(owners), NUM_PERM), dtype=np.uint64)
        block = owners // SIG_BLOCK
        for b in np.unique(block).tolist():
            sel = block == b
            out[sel] = self._blocks[b][owners[sel] % SIG_BLOCK]
        return out

    def _sig(self, j: int) -> np.ndarray:
        return self._blocks[j // SIG_BLOCK][j % SIG_BLOCK]

    def _store(self, sig: np.ndarray, size: int, source: str) -> int:
        """Keep a signature with its size and source; its index."""
        j = self._count
        if j % SIG_BLOCK == 0:
            self._blocks.append(np.empty((SIG_BLOCK, NUM_PERM), dtype=np.uint64))
        self._blocks[-1][j % SIG_BLOCK] = sig
        self._sizes.append(size)
        self._sources.append(source)
        self._count += 1
        return j

    def _candidates(self, keys: np.ndarray) -> set[int]:
        """Indices of the documents that share at least one band key with ``keys``.

        Most documents share none: one ``searchsorted`` and one set intersection say so.
        """
        found: set[int] = set()
        n = self._bulk_keys.size
        if n:
            lo = np.searchsorted(self._bulk_keys, keys)
            hit = self._bulk_keys[np.minimum(lo, n - 1)] == keys
            if hit.any():
                hi = np.searchsorted(self._bulk_keys, keys[hit], side="right")
                for start, end in zip(lo[hit].tolist(), hi.tolist(), strict=True):
                    found.update(self._bulk_owner[start:end].tolist())
        for k in self._pending.keys() & set(keys.tolist()):
            found.update(self._pending[k])
        return found

    def _join(self, keys: np.ndarray, owners: np.ndarray) -> None:
        """Add (band key, document) pairs to the sorted arrays."""
        order = np.argsort(keys, kind="stable")
        flat = np.concatenate([self._bulk_keys, keys[order]])
        owner = np.concatenate([self._bulk_owner, owners[order]])
        # two sorted runs: the stable sort (timsort) merges them in linear time
        merged = np.argsort(flat, kind="stable")
        self._bulk_keys, self._bulk_owner = flat[merged], owner[merged]

    def _merge_pending(self) -> None:
        if not self._pending_owner:
            return
        keys = np.concatenate(self._pending_keys)
        owners = np.repeat(np.asarray(self._pending_owner, dtype=np.int64), BANDS)
        self._join(keys, owners)
        self._pending, self._pending_keys, self._pending_owner = {}, [], []

    def add_known(
        self, keys: list[str], sigs: np.ndarray, sizes: list[int], sources: list[str]
    ) -> None:
        """Register documents known to repeat nothing, all at once, without checking them.

        The store's active documents were checked when they were saved; indexing them in
        sorted arrays makes a 100,000-document index a second's work rather than a minute's.

        Args:
            keys: content hash of each document.
            sigs: their MinHash signatures, one row each (``len(keys)`` rows; a document
                without a signature is registered by ``check_parts`` instead).
            sizes, sources: their shingle counts and sources.
        """
        start = self._count
        for sig, size, source in zip(sigs, sizes, sources, strict=True):
            self._store(sig, size, source)
        for key, source in zip(keys, sources, strict=True):
            self._exact.setdefault(key, source)
        owners = np.repeat(np.arange(start, start + len(keys), dtype=np.int64), BANDS)
        self._join(band_keys(sigs).ravel(), owners)


#: Signature pairs compared at once (16 MB of rows): bounds memory when candidates abound.
PAIR_CHUNK = 8192


def _chunks(n: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + PAIR_CHUNK, n)) for lo in range(0, n, PAIR_CHUNK)]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positions ``start, start + 1, … start + count - 1`` of every range, concatenated."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(int(ends[-1]))


def _similar_within(sigs: np.ndarray, bkeys: np.ndarray) -> tuple[np.ndarray, ...]:
    """(later row, earlier row, share of equal rows) of the rows of one batch sharing a band."""
    rows = np.repeat(np.arange(len(sigs)), BANDS)
    flat = bkeys.ravel()
    order = np.lexsort((rows, flat))
    key, row = flat[order], rows[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    later, earlier = [], []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        if hi - lo > 1:  # rows sharing this band key, in order: each with all before it
            group = row[lo:hi]
            b, a = np.triu_indices(len(group), k=1)
            later.append(group[a])
            earlier.append(group[b])
    if not later:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    pairs = np.unique(np.stack([np.concatenate(later), np.concatenate(earlier)], axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    same = np.empty(len(pairs))
    for lo, hi in _chunks(len(pairs)):
        same[lo:hi] = (sigs[pairs[lo:hi, 0]] == sigs[pairs[lo:hi, 1]]).mean(axis=1)
    return pairs[:, 0], pairs[:, 1], same


def _by_first(
    first: np.ndarray, second: np.ndarray, same: np.ndarray
) -> dict[int, list[tuple[int, float]]]:
    """Pairs grouped by their first member: {first: [(second, share), …]}."""
    out: dict[int, list[tuple[int, float]]] = {}
    for a, b, s in zip(first.tolist(), second.tolist(), same.tolist(), strict=True):
        out.setdefault(a, []).append((b, s))
    return out


# --- the stage -------------------------------------------------------------------------------


def ingest_folder(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestResult:
    """Read every file of ``folder``; quarantine what cannot be used; count duplicates once.

    Raises:
        FileNotFoundError: when the folder does not exist.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"source folder not found: {folder}")
    manifest = read_manifest(folder)
    result = IngestResult()
    dedup = Deduplicator()
    seen_id: set[str] = set()
    for path in list_sources(folder):
        try:
            got = read_path(path, folder, max_bytes, manifest)
        except UnreadableError as err:
            rel = display_path(path.relative_to(folder).as_posix())
            result.quarantined.append(Quarantined(rel, str(err)))
            continue
        result.quarantined.extend(got.quarantined)
        for doc in got.docs:
            dup = dedup.check(doc)
            if dup is not None:
                kind, original = dup
                result.duplicates.append((doc.source, original, kind))
                continue
            result.sources.append(unique_id(doc, seen_id))
    return result


def unique_id(doc: SourceDoc, seen: set[str]) -> SourceDoc:
    """``doc`` with a doc_id no earlier document has ("a" twice: the second becomes "a~2").

    Registers the id in ``seen``. Files are read in sorted path order, so the same folder
    always gives the same ids.
    """
    doc_id, n = doc.doc_id, 1
    while doc_id in seen:
        n += 1
        doc_id = f"{doc.doc_id}~{n}"
    seen.add(doc_id)
    if doc_id == doc.doc_id:
        return doc
    return SourceDoc(doc_id, doc.source, doc.text, doc.title, doc.meta, doc.content_hash)
