"""The tiny demo model of the deployment tests (tests/deployment/: export
and quantization), whose checkpoint the ``trained`` fixture of
tests/deployment/conftest.py writes."""
import os.path as osp

import torch

from helpers import REPO, tiny_demo_overrides

CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_synthetic.py')
LAYERS = 2


def overrides(data_dir, extra=()):
    """The demo config shrunk to a 2-block width-64 model on 32 px videos;
    ``pretrained`` is left pointing at the demo's image model, which does
    not exist here: exporting must not need it."""
    options = [
        o for o in tiny_demo_overrides(data_dir, 'unused')
        if not o.startswith('model.backbone.pretrained')
    ]
    return options + list(extra)


def reference_scores(trained, clips):
    """The unmerged PyTorch model (eager, in-place STDHA) on raw pixels."""
    from zeroi2v_mm.deployment import DeployedRecognizer
    with torch.no_grad():
        return DeployedRecognizer(trained['model'].eval())(clips)
