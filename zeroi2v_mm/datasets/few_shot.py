"""K-shot training subsets of MMAction2 recognition annotation files.

Few-shot benchmarks (VidTAB, used by ZeroI2V's Table 8) train on K videos of
each class and test on the full test set. :func:`make_few_shot_split` picks
exactly K entries of every class of an annotation file, seeded and
reproducible, and writes them in the input's own format, next to a manifest
(source file and its sha256, K, seed, per-class counts, the chosen entries),
both atomically. ``tools/data/make_few_shot_split.py`` is its command line.

Formats read (MMAction2's, single-label):

* ``video``: text lines ``path label`` (``VideoDataset``);
* ``rawframes``: text lines ``path total_frames label`` (``RawframeDataset``);
* ``json``: a JSON list of dicts with an integer ``label`` (or a one-element
  list), e.g. ``{"filename": ..., "label": 3}`` or ``{"frame_dir": ...,
  "total_frames": ..., "label": 3}``.
"""
import hashlib
import json
import os.path as osp
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..utils.io import (OutputPathError, atomic_write_all, check_output,
                        json_writer, same_file)

FORMATS = ('auto', 'video', 'rawframes', 'json')
# Fields per text line of each text format.
_TEXT_FIELDS = {'video': 2, 'rawframes': 3}


class FewShotError(ValueError):
    """A bad annotation file or request; names the file, line or class."""


@dataclass
class Entry:
    """One annotation: where it is in the source and its class.

    Attributes:
        index: position among the entries (0-based).
        line: 1-based line (text) or list index + 1 (JSON) in the source.
        label: the class.
        item: the text line (stripped) or the JSON dict, as in the source.
    """
    index: int
    line: int
    label: int
    item: Any


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _label(value: Any, where: str) -> int:
    """An integer class >= 0 from a text field or a JSON value."""
    if isinstance(value, list):
        if len(value) != 1:
            raise FewShotError(
                f'{where}: label {value!r} has {len(value)} classes; K-shot '
                'subsets need single-label annotations')
        value = value[0]
    if isinstance(value, bool):
        value = None  # JSON true/false is not a class
    try:
        label = int(value)
        if isinstance(value, float) and value != label:
            raise ValueError
    except (TypeError, ValueError):
        raise FewShotError(f'{where}: label {value!r} is not an integer') \
            from None
    if label < 0:
        raise FewShotError(f'{where}: label {label} is negative')
    return label


def _read_json(path: str) -> List[Entry]:
    try:
        with open(path, encoding='utf-8') as file:
            data = json.load(file)
    except json.JSONDecodeError as error:
        raise FewShotError(f'{path}: not valid JSON ({error})') from None
    if not isinstance(data, list):
        raise FewShotError(f'{path}: expected a JSON list of annotations '
                           f'(MMAction2 format), found {type(data).__name__}')
    entries = []
    for number, item in enumerate(data, 1):
        where = f'{path}, entry {number}'
        if not isinstance(item, dict) or 'label' not in item:
            raise FewShotError(f'{where}: expected a dict with a "label" key, '
                               f'found {str(item)[:80]!r}')
        entries.append(
            Entry(len(entries), number, _label(item['label'], where), item))
    return entries


def _read_text(path: str, fmt: str) -> Tuple[str, List[Entry]]:
    with open(path, encoding='utf-8') as file:
        lines = [(number, line.strip()) for number, line in enumerate(file, 1)
                 if line.strip()]
    if not lines:
        raise FewShotError(f'{path}: no annotations')
    if fmt == 'auto':
        counts = {len(text.split()) for _, text in lines}
        if counts == {2}:
            fmt = 'video'
        elif counts == {3}:
            fmt = 'rawframes'
        else:
            raise FewShotError(
                f'{path}: cannot tell the format: lines have '
                f'{sorted(counts)} fields; expected "path label" (video) or '
                '"path total_frames label" (rawframes) on every line; '
                'multi-label files have no K-shot subsets')
    expected = _TEXT_FIELDS[fmt]
    entries = []
    for number, text in lines:
        fields = text.split()
        where = f'{path}, line {number}'
        if len(fields) != expected:
            raise FewShotError(
                f'{where}: {len(fields)} fields in {text[:80]!r}; the {fmt} '
                f'format has {expected}')
        if fmt == 'rawframes' and not fields[1].isdigit():
            raise FewShotError(f'{where}: total_frames {fields[1]!r} is not '
                               'a non-negative integer')
        entries.append(
            Entry(len(entries), number, _label(fields[-1], where), text))
    return fmt, entries


def read_annotations(path: str, fmt: str = 'auto') -> Tuple[str, List[Entry]]:
    """Read an annotation file.

    Args:
        path: the file (``.json`` is read as JSON in ``'auto'`` mode).
        fmt: one of :data:`FORMATS`. Defaults to ``'auto'`` (JSON by the
            extension, else by the number of fields per line).

    Returns:
        tuple: the format found and the entries, in file order.
    """
    if fmt not in FORMATS:
        raise FewShotError(f'format {fmt!r}: expected one of {FORMATS}')
    if not osp.isfile(path):
        raise FewShotError(f'annotation file not found: {path}')
    if fmt == 'json' or (fmt == 'auto' and path.endswith('.json')):
        fmt, entries = 'json', _read_json(path)
    else:
        fmt, entries = _read_text(path, fmt)
    if not entries:
        raise FewShotError(f'{path}: no annotations')
    return fmt, entries


def choose_shots(entries: List[Entry],
                 shots: int,
                 seed: int,
                 source: str = 'the annotation file') -> List[Entry]:
    """Exactly ``shots`` entries of every class, chosen with ``seed``.

    Each class draws from its own entries with a generator seeded by
    ``(seed, class)``, so a class's choice depends only on the seed and that
    class's entries. The result keeps the source order.

    Raises:
        FewShotError: ``shots < 1``, or a class with fewer entries (each
            such class named with its count).
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise FewShotError(f'shots={shots!r}: must be an integer >= 1')
    by_class: Dict[int, List[Entry]] = {}
    for entry in entries:
        by_class.setdefault(entry.label, []).append(entry)
    short = sorted((len(items), label) for label, items in by_class.items()
                   if len(items) < shots)
    if short:
        named = ', '.join(f'class {label} has {count}'
                          for count, label in short)
        raise FewShotError(
            f'{shots} shots per class: {source} has fewer entries in '
            f'{len(short)} of {len(by_class)} classes ({named}); choose '
            f'--shots <= {short[0][0]}')
    chosen = []
    for label in sorted(by_class):
        generator = random.Random(f'{seed}/{label}')
        chosen += generator.sample(by_class[label], shots)
    return sorted(chosen, key=lambda entry: entry.index)


def manifest_path_of(out_file: str) -> str:
    """``OUT.txt`` -> ``OUT_manifest.json`` (next to the subset)."""
    return osp.splitext(out_file)[0] + '_manifest.json'


def make_few_shot_split(ann_file: str,
                        out_file: str,
                        shots: int,
                        seed: int,
                        fmt: str = 'auto',
                        force: bool = False,
                        manifest_file: Optional[str] = None) -> Dict[str, Any]:
    """Write the ``shots``-per-class subset of ``ann_file`` and its manifest.

    Args:
        ann_file: an MMAction2 annotation file (see the module docstring).
        out_file: the subset, in the same format.
        shots: K, entries per class.
        seed: the seed; the same seed and source give the same subset.
        fmt: see :func:`read_annotations`. Defaults to ``'auto'``.
        force: replace existing output files. Defaults to False: an existing
            subset or manifest is an error and nothing is written.
        manifest_file: defaults to :func:`manifest_path_of` ``(out_file)``.

    Returns:
        dict: the manifest.
    """
    manifest_file = manifest_file or manifest_path_of(out_file)
    if same_file(out_file, manifest_file):
        raise FewShotError(f'--out {out_file} is its own manifest path; give '
                           'it a .txt or .json name')
    try:
        for option, path in (('--out', out_file), ('the manifest',
                                                   manifest_file)):
            check_output(
                path, [('the annotation file', ann_file)],
                force=force,
                option=option)
    except OutputPathError as error:
        raise FewShotError(str(error)) from None
    fmt, entries = read_annotations(ann_file, fmt)
    chosen = choose_shots(entries, shots, seed, source=ann_file)
    counts: Dict[int, int] = {}
    for entry in entries:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    if fmt == 'json':
        text = json.dumps([entry.item for entry in chosen], indent=2) + '\n'
    else:
        text = ''.join(entry.item + '\n' for entry in chosen)
    manifest = dict(
        source=osp.abspath(ann_file),
        source_sha256=sha256_of(ann_file),
        format=fmt,
        shots=shots,
        seed=seed,
        # what cls_head.num_classes must be for these labels (a class
        # absent from the file still needs its output)
        num_classes=max(counts) + 1,
        classes_present=len(counts),
        num_entries=len(chosen),
        per_class={
            str(label): dict(source=counts[label], chosen=shots)
            for label in sorted(counts)
        },
        out=osp.abspath(out_file),
        out_sha256=hashlib.sha256(text.encode('utf-8')).hexdigest(),
        chosen=[
            dict(line=entry.line, label=entry.label, entry=entry.item)
            for entry in chosen
        ],
    )

    def write_subset(tmp_path: str) -> None:
        with open(tmp_path, 'w', encoding='utf-8') as file:
            file.write(text)

    atomic_write_all([(out_file, write_subset),
                      (manifest_file, json_writer(manifest))])
    return manifest
