"""metafile.yml and docs/en/model_zoo.md: every config they name exists, and
the two agree on the paper's numbers."""
import os.path as osp
import re

import yaml

from helpers import REPO


def load_metafile():
    with open(osp.join(REPO, 'metafile.yml')) as file:
        return yaml.safe_load(file)


def test_metafile_configs_exist_and_collections_are_declared():
    meta = load_metafile()
    collections = {c['Name'] for c in meta['Collections']}
    assert {'ZeroI2V', 'InTI'} <= collections
    assert meta['Models']
    for model in meta['Models']:
        assert osp.isfile(osp.join(REPO, model['Config'])), model['Config']
        assert model['In Collection'] in collections
        assert model['Results'][0]['Metrics']


def test_model_zoo_table_matches_the_metafile():
    text = open(osp.join(REPO, 'docs/en/model_zoo.md')).read()
    for link in re.findall(r'\]\(\.\./\.\./(configs/[^)]+)\)', text):
        assert osp.isfile(osp.join(REPO, link)), link
    for model in load_metafile()['Models']:
        config = osp.basename(model['Config'])
        rows = [line for line in text.splitlines() if f'[{config}]' in line]
        assert rows, f'{config} missing from docs/en/model_zoo.md'
        for value in model['Results'][0]['Metrics'].values():
            assert any(f'{value}' in row for row in rows), (config, value)
    assert 'tools/convert_official_checkpoint.py' in text
