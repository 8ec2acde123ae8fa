"""Deterministic merged checkpoints of shipped configs, hashed.

Guards the promise that refactoring the model code changes no bit of a
merged checkpoint (and no key of an unmerged one): build the model of a
config (made tiny where the real one is ViT-B), fill every floating-point
tensor of its state dict with values seeded by the tensor's *name* (so the
result does not depend on the order modules are built in), save an
MMEngine-style checkpoint, load it back with MMEngine's loader, merge it
with the package's merge path (:func:`zeroi2v_mm.reparam.merge_and_verify`,
what ``tools/merge_adapters.py`` and ``MergeAdaptersHook`` run) and hash the
merged state dict: sorted keys, dtype, shape and raw bytes.

The expected hashes in tests/reparam/test_merged_bit_identity.py were
computed by this script with the code before the issue-14 refactor (commit
6fcad1f):
``PYTHONPATH=tests python -m helpers.merge_fixture`` (from the repository
root) prints them.
"""
import hashlib
import os.path as osp
import sys
import tempfile

import torch

from helpers import REPO

# A ViT-B config made tiny: same STDHA (2 of 12 heads), same adapters.
TINY_B16 = dict(width=96, layers=2, heads=12, patch_size=16, image_size=32)

# The synthetic configs' ViT as it was at 6fcad1f (8-px patches; the demo
# has used 16-px patches since), so the pinned hashes still compare like with
# like.
DEMO_P8 = dict(
    arch=dict(width=128, layers=4, heads=8, patch_size=8, image_size=64))

# name -> (config, overrides of model.backbone, overrides of model.cls_head,
#          input shape of one view (3, T, H, W))
CASES = {
    'demo': ('configs/demo/zeroi2v_synthetic.py', DEMO_P8, {}, (3, 8, 64, 64)),
    'k400_tiny': ('configs/recognition/zeroi2v/'
                  'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
                  dict(arch=TINY_B16), dict(in_channels=96), (3, 8, 32, 32)),
    'lora_synthetic':
    ('configs/recognition/lora/'
     'lora_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py', DEMO_P8, {},
     (3, 8, 64, 64)),
    'temporal-heads_synthetic':
    ('configs/recognition/temporal_heads/'
     'temporal-heads_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
     DEMO_P8, {}, (3, 8, 64, 64)),
}
# Non-mergeable methods: only the keys and shapes of their (unmerged) state
# dict are pinned (checkpoints of them must keep loading).
KEY_CASES = {
    'aim_synthetic':
    'configs/recognition/aim/'
    'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
    'st-adapter_synthetic':
    'configs/recognition/st_adapter/'
    'st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
    'gelu-adapter_synthetic':
    'configs/recognition/gelu_adapter/'
    'gelu-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
}


def _name_seed(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def fill_by_name(model: torch.nn.Module, std: float = 0.05) -> None:
    """Every floating-point state-dict tensor := seeded noise (seed from its
    name); norm weights around 1 so the network stays well-conditioned."""
    state = model.state_dict()
    filled = {}
    for name in sorted(state):
        tensor = state[name]
        if not tensor.is_floating_point():
            continue
        generator = torch.Generator().manual_seed(_name_seed(name))
        noise = torch.randn(tensor.shape, generator=generator) * std
        if name.endswith('.weight') and ('ln_' in name or 'norm' in name):
            noise = noise + 1.0
        filled[name] = noise.to(tensor.dtype)
    missing, unexpected = model.load_state_dict(filled, strict=False)
    assert not unexpected, unexpected


def state_hash(state: dict) -> str:
    """sha256 over sorted keys, dtype, shape and raw bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def keys_hash(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(f'{name}{tuple(state[name].shape)}'.encode())
    return digest.hexdigest()


def _model_cfg(config: str, backbone: dict, head: dict):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.update(backbone, pretrained=None)
    cfg.model.cls_head.update(head)
    return cfg.model


def _build(model_cfg):
    import zeroi2v_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def merged_hash(case: str) -> str:
    """Build, fill, save, load (MMEngine), merge and hash one case."""
    from mmengine.runner import load_checkpoint

    from zeroi2v_mm.reparam import build_plain_model, merge_and_verify
    config, backbone, head, view = CASES[case]
    model_cfg = _model_cfg(config, backbone, head)
    model = _build(model_cfg)
    fill_by_name(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'epoch_1.pth')
        torch.save(
            dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
        loaded = _build(model_cfg)
        load_checkpoint(loaded, path, map_location='cpu', strict=True)
    inputs = torch.randn(
        (2, 1) + tuple(view), generator=torch.Generator().manual_seed(1))
    merged, report = merge_and_verify(
        loaded.eval(), [inputs],
        tolerance=1e-3,
        plain=build_plain_model(model_cfg),
        count_complexity=False)
    assert report['passed'], report
    return state_hash(merged.state_dict())


def init_hash(case: str) -> str:
    """Hash of the state dict of the model built under ``manual_seed(0)``:
    the same random start (same draws in the same order) as before."""
    if case in CASES:
        config, backbone, head, _ = CASES[case]
        model_cfg = _model_cfg(config, backbone, head)
    else:
        model_cfg = _model_cfg(KEY_CASES[case], DEMO_P8, {})
    return state_hash(_build(model_cfg).state_dict())


def unmerged_keys_hash(case: str) -> str:
    model = _build(_model_cfg(KEY_CASES[case], DEMO_P8, {}))
    return keys_hash(model.state_dict())


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    torch.set_num_threads(1)
    for name in CASES:
        print(f"    '{name}': '{merged_hash(name)}',")
    for name in KEY_CASES:
        print(f"    '{name}': '{unmerged_keys_hash(name)}',")
    for name in list(CASES) + list(KEY_CASES):
        print(f"    '{name}': '{init_hash(name)}',")
