"""AIM (``peft=dict(type='AIM')``) as released: its temporal pass is the
block's own attention over the frames of each token, its adapters have and
lack skips as in the paper, and drop path reaches only the temporal and MLP
adapter branches."""
import math

import pytest
import torch
import torch.nn.functional as F

from zeroi2v_mm.models.peft import AIMAdapters

from helpers import TINY_ARCH
from helpers.peft import FRAMES, METHODS, build, randomize

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


def test_aim_temporal_branch_is_attention_over_frames_per_token():
    """AIM's temporal pass = the block's own ln_1 + attention (same weights)
    over the T frames of each token position, between its T-adapters;
    checked against a per-clip, per-token loop."""
    model = build(METHODS['AIM'], stdha=None).eval()
    randomize(model)
    block = model.transformer.resblocks[0]
    peft = block.peft
    assert isinstance(peft, AIMAdapters)
    batch, tokens, width = 2, 17, TINY_ARCH['width']
    x = torch.randn(batch * FRAMES, tokens, width)
    with torch.no_grad():
        got = peft.temporal(block, x).view(batch, FRAMES, tokens, width)
        heads = TINY_ARCH['heads']
        weight, bias = block.attn.in_proj.weight, block.attn.in_proj.bias
        clip = x.view(batch, FRAMES, tokens, width)
        for b in range(batch):
            for n in range(tokens):
                seq = peft.t_adapter_in(block.ln_1(clip[b, :, n]))  # (T, C)
                q, k, v = F.linear(seq, weight, bias).chunk(3, dim=-1)
                q, k, v = (
                    t.view(FRAMES, heads, -1).transpose(0, 1)
                    for t in (q, k, v))
                att = (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]))
                out = (att.softmax(-1) @ v).transpose(0, 1).reshape(
                    FRAMES, width)
                want = peft.t_adapter(block.attn.out_proj(out))
                torch.testing.assert_close(
                    got[b, :, n], want, atol=1e-5, rtol=1e-5)


def test_aim_adapters_have_and_lack_skips_as_the_paper():
    peft = build(METHODS['AIM']).transformer.resblocks[0].peft
    assert peft.t_adapter_in.skip and peft.s_adapter.skip
    assert not peft.t_adapter.skip and not peft.mlp_adapter.skip
    assert peft.mlp_adapter.scale == 0.5
    hidden = int(TINY_ARCH['width'] * 0.25)
    assert peft.s_adapter.fc1.out_features == hidden
    assert torch.all(peft.s_adapter.fc2.weight == 0)


def test_aim_drop_path_only_on_temporal_and_mlp_adapter_branches():
    """As AIM's released block: with every droppable branch dropped, the
    block is the image block with its S-adapter (attention and MLP always
    run)."""
    model = build(METHODS['AIM'], stdha=None, drop_path_rate=0.5)
    randomize(model)
    block = model.transformer.resblocks[-1]
    peft = block.peft

    class DropAll(torch.nn.Module):

        def forward(self, t):
            return torch.zeros_like(t)

    block.drop_path = DropAll()  # drop every droppable branch
    x = torch.randn(2 * FRAMES, 17, TINY_ARCH['width'])
    with torch.no_grad():
        got = block(x)  # AIMBlock.forward
        x1 = x + peft.s_adapter(block.attn(block.ln_1(x)))
        want = x1 + block.mlp(block.ln_2(x1))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
