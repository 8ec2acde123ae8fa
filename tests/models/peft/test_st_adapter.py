"""ST-Adapter (``peft=dict(type='STAdapter')``) as released: a depth-wise
convolution over neighbouring frames' patch tokens, placed before the MLP
(K400) or before the attention and the MLP (SSv2)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from zeroi2v_mm.models.peft import STAdapter

from helpers import REPO, TINY_ARCH
from helpers.peft import FRAMES, METHODS, build, randomize

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


def test_st_adapter_convolves_patch_tokens_over_neighbouring_frames():
    adapter = STAdapter(16, num_frames=FRAMES, grid_size=(2, 2), channels=8)
    with torch.no_grad():
        adapter.conv.weight.normal_()
        adapter.fc2.weight.normal_()
    x = torch.randn(2 * FRAMES, 5, 16)
    y = adapter(x)
    torch.testing.assert_close(y[:, 0], x[:, 0])  # CLS bypasses
    changed = x.clone()
    changed[0, 1:] += 1.0  # clip 0, frame 0
    delta = (adapter(changed) - y).abs().amax(dim=(1, 2))
    # kernel (3, 1, 1): frames 0 and 1 of clip 0 change, nothing else
    assert delta[0] > 0 and delta[1] > 0
    assert torch.all(delta[2:] == 0)
    assert adapter.conv.groups == 8 and adapter.conv.kernel_size == (3, 1, 1)


def test_st_adapter_placement_as_released():
    """Default (the released K400 model): one adapter, before the MLP;
    the SSv2 config: before the attention and before the MLP, 384 wide."""
    from zeroi2v_mm.models.peft.st_adapter import STAdapters
    default = STAdapters(16, FRAMES, (2, 2), channels=8)
    assert default.attn_adapter is None and default.mlp_adapter is not None
    block = build(METHODS['STAdapter'], stdha=None).transformer.resblocks[0]
    assert block.peft.attn_adapter is None
    x = torch.randn(FRAMES, 17, TINY_ARCH['width'])
    # the adapter sees the stream after the attention: changing what the
    # attention adds changes the adapter's input
    randomize(block)
    with torch.no_grad():
        calls = []
        hook = block.peft.mlp_adapter.register_forward_hook(
            lambda m, i, o: calls.append(i[0].clone()))
        block(x)
        hook.remove()
        attn_out = block.attn(block.ln_1(x))
    torch.testing.assert_close(calls[0], x + attn_out, atol=1e-6, rtol=1e-6)
    k400 = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/st_adapter/'
            'st-adapter_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py')
    ).model.backbone
    ssv2 = Config.fromfile(
        osp.join(
            REPO, 'configs/recognition/st_adapter/'
            'st-adapter_clip-vit-base-p16_u8-50e_sthv2-rgb.py')).model.backbone
    assert tuple(k400.peft.positions) == ('mlp', )
    assert tuple(ssv2.peft.positions) == ('attn', 'mlp')
    assert k400.peft.channels == ssv2.peft.channels == 384
