"""The ```bash / ```python blocks of README.md and docs/en/**/*.md, with the
marker just before each (an HTML comment on the line above the fence):

- ``<!-- test: tests/folder/test_file.py::test_name -->``: that test runs
  the block (it reads the blocks that name it with :func:`marked`);
- ``<!-- skip-test: reason -->``: not run, for the reason given (real data,
  a GPU, a download, minutes of compute).

tests/docs/test_docs_snippets.py fails on a block with neither.
"""
import glob
import os.path as osp
import re
from typing import List, NamedTuple, Optional

from helpers import REPO

LANGUAGES = ('bash', 'python')
_FENCE = re.compile(r'^```(\w*)\s*$')
_MARKER = re.compile(r'^<!--\s*(test|skip-test):\s*(.*?)\s*-->\s*$')


class Snippet(NamedTuple):
    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    kind: Optional[str]  # 'test', 'skip-test' or None
    argument: str  # the test's id or the reason to skip

    def where(self) -> str:
        return f'{self.path}:{self.line}'


def doc_files() -> List[str]:
    files = ['README.md'] + sorted(
        osp.relpath(p, REPO) for p in glob.glob(
            osp.join(REPO, 'docs', 'en', '**', '*.md'), recursive=True)
        if '_build' not in p)
    return files


def snippets(path: str) -> List[Snippet]:
    """Every bash / python block of one Markdown file, in order."""
    lines = open(osp.join(REPO, path)).read().split('\n')
    found, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith('```'):
            end += 1
        language = match.group(1)
        if language in LANGUAGES:
            before = i - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            marker = _MARKER.match(lines[before]) if before >= 0 else None
            found.append(
                Snippet(path, i + 1, language, '\n'.join(lines[i + 1:end]),
                        marker.group(1) if marker else None,
                        marker.group(2) if marker else ''))
        i = end + 1
    return found


def all_snippets() -> List[Snippet]:
    return [s for path in doc_files() for s in snippets(path)]


def marked(test_id: str) -> List[Snippet]:
    """The blocks whose marker names ``test_id``
    (``tests/folder/test_file.py::test_name``)."""
    return [
        s for s in all_snippets() if s.kind == 'test' and s.argument == test_id
    ]


def shell_commands(code: str) -> List[str]:
    """The commands of a bash block: continuation lines joined, comments and
    blank lines dropped."""
    joined = re.sub(r'\s*\\\n\s*', ' ', code)
    commands = []
    for line in joined.split('\n'):
        line = line.split(' # ')[0].strip()
        if line and not line.startswith('#'):
            commands.append(line)
    return commands
