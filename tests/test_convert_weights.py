"""tools/convert_clip_weights.py writes a checkpoint that loads into the
backbone with identical features."""
import open_clip
import pytest
import torch

from helpers import run_cli
from zeroi2v_mm.models import ZeroI2VViT


@pytest.mark.slow
def test_convert_open_clip_checkpoint(tmp_path):
    torch.manual_seed(0)
    clip = open_clip.CLIP(
        embed_dim=32, quick_gelu=True,
        vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8),
        text_cfg=dict(context_length=8, vocab_size=50, width=32, heads=2,
                      layers=1)).eval()
    src = tmp_path / 'open_clip.pth'
    torch.save({'epoch': 3, 'state_dict': {'module.' + k: v for k, v in
                                           clip.state_dict().items()}}, src)
    out = tmp_path / 'backbone.pth'
    log = run_cli(['python', 'tools/convert_clip_weights.py', str(src),
                   str(out)])
    assert "'width': 64, 'layers': 2, 'heads': 1, 'patch_size': 8, " \
        "'image_size': 32" in log
    checkpoint = torch.load(out, weights_only=False)
    assert 'proj' not in checkpoint['state_dict']
    arch = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)
    from_src = ZeroI2VViT(arch=arch, num_frames=2, pretrained=str(src)).eval()
    from_out = ZeroI2VViT(arch=arch, num_frames=2, pretrained=str(out)).eval()
    from_src.init_weights()
    from_out.init_weights()
    x = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        assert torch.equal(from_src(x), from_out(x))
    # never overwrites by accident
    try:
        run_cli(['python', 'tools/convert_clip_weights.py', str(src),
                 str(out)])
    except AssertionError as error:
        assert 'exists; pass --force' in str(error)
    else:
        raise AssertionError('second conversion overwrote its output')
