# Sphinx configuration of the zeroi2v-mm docs (MyST Markdown, as MMAction2).
# Build: sphinx-build -W -b html docs/en work_dirs/docs/html
# (tools/run_tests.sh runs it with warnings as errors).
import os
import sys

sys.path.insert(0, os.path.abspath('../..'))

project = 'zeroi2v-mm'
copyright = 'zeroi2v-mm contributors'
author = 'zeroi2v-mm contributors'

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']
# `[text](page.md#a-heading)` links: anchors for headings down to ###
myst_heading_anchors = 3
# Links to files of the repository outside docs/en (configs, metafile.yml)
# are not pages: MyST keeps them as plain links without a warning.
myst_enable_extensions = ['colon_fence']
autodoc_mock_imports = []
autodoc_member_order = 'bysource'
html_theme = 'alabaster'
