"""Every ```bash / ```python block of README.md and docs/en/ is run by a test
or says why not: a block without a marker, a marker naming a test that does
not exist, or a skip without a reason fails here
(tests/helpers/doc_snippets.py has the marker syntax). The tests that run the
blocks live next to the fixtures they need
(tests/e2e/test_own_data_walkthrough.py: a tiny run of the own-data
template)."""
import ast
import os.path as osp

import pytest

from helpers import REPO
from helpers.doc_snippets import all_snippets, doc_files, snippets


def _test_exists(test_id: str) -> bool:
    path, _, name = test_id.partition('::')
    file = osp.join(REPO, path)
    if not (path.startswith('tests/') and name and osp.isfile(file)):
        return False
    tree = ast.parse(open(file).read())
    return any(
        isinstance(node, ast.FunctionDef) and node.name == name
        for node in tree.body)


@pytest.mark.parametrize('path', doc_files())
def test_every_block_is_run_or_marked_with_a_reason(path):
    problems = []
    for snippet in snippets(path):
        if snippet.kind is None:
            problems.append(
                f'{snippet.where()}: a ```{snippet.language} block with no '
                'marker: add a test that runs it (<!-- test: '
                'tests/folder/test_x.py::test_y -->) or <!-- skip-test: '
                'reason -->')
        elif snippet.kind == 'skip-test' and len(snippet.argument) < 10:
            problems.append(f'{snippet.where()}: skip-test without a reason')
        elif snippet.kind == 'test' and not _test_exists(snippet.argument):
            problems.append(f'{snippet.where()}: {snippet.argument!r} is not '
                            'a test function of tests/')
    assert not problems, '\n'.join(problems)


def test_blocks_are_found_where_they_are():
    """The parser sees the documented commands (a wrong fence or an empty
    file list would let every block through)."""
    found = all_snippets()
    assert len(found) >= 30
    readme = [s for s in found if s.path == 'README.md']
    assert any('bash tools/run_demo.sh' in s.code for s in readme)
    assert any('bash tools/run_tests.sh' in s.code for s in readme)
    assert any(s.kind == 'test' and 'init_recognizer' in s.code
               for s in readme)
