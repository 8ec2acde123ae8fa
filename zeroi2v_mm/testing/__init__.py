"""Synthetic data for smoke tests, the demo and the test suite: the
renderers behind ``tools/data/make_synthetic_videos.py`` and
``tools/data/make_synthetic_ava.py`` (``synthetic_videos``,
``synthetic_ava``). Nothing here is imported by the models or the training
code; import the submodules directly."""
