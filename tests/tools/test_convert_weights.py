"""tools/convert_weights.py writes a checkpoint that loads into the
backbone with identical features."""
import open_clip
import pytest
import torch

from zeroi2v_mm.models import ZeroI2VViT

from helpers import run_cli


@pytest.mark.slow
def test_convert_open_clip_checkpoint(tmp_path):
    torch.manual_seed(0)
    clip = open_clip.CLIP(
        embed_dim=32,
        quick_gelu=True,
        vision_cfg=dict(image_size=32, layers=2, width=64, patch_size=8),
        text_cfg=dict(
            context_length=8, vocab_size=50, width=32, heads=2,
            layers=1)).eval()
    src = tmp_path / 'open_clip.pth'
    torch.save(
        {
            'epoch': 3,
            'state_dict': {
                'module.' + k: v
                for k, v in clip.state_dict().items()
            }
        }, src)
    out = tmp_path / 'backbone.pth'
    log = run_cli(['python', 'tools/convert_weights.py', str(src), str(out)])
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
        run_cli(['python', 'tools/convert_weights.py', str(src), str(out)])
    except AssertionError as error:
        assert 'exists; pass --force' in str(error)
    else:
        raise AssertionError('second conversion overwrote its output')


def test_convert_timm_and_mmpretrain_vits(tmp_path, capsys):
    """timm (DINOv2-style LayerScale) and mmpretrain ViTs convert to backbone
    checkpoints that give the features of the source file, with the
    backbone settings to use stored in meta and printed."""
    from helpers import load_tool
    from helpers.vit_styles import ARCH, tiny_mmpretrain, tiny_timm
    tool = load_tool('tools/convert_weights.py')
    timm_src = tmp_path / 'timm.pth'
    torch.save(tiny_timm(layer_scale=0.1).state_dict(), timm_src)
    vit = tiny_mmpretrain()
    mmpretrain_src = tmp_path / 'mmpretrain.pth'
    torch.save(
        dict(state_dict={
            'backbone.' + k: v
            for k, v in vit.state_dict().items()
        }), mmpretrain_src)
    x = torch.randn(1, 3, 2, 32, 32)
    for src, style, layer_scale in ((timm_src, 'timm', 0.1),
                                    (mmpretrain_src, 'mmpretrain', None)):
        out = tmp_path / f'{style}_backbone.pth'
        tool.main([str(src), str(out)])
        assert f"style={style!r}" in capsys.readouterr().out
        meta = torch.load(out, weights_only=False)['meta']
        # heads are not in the weights (64-wide heads assumed: 1 here)
        assert dict(meta['arch'], heads=4) == ARCH
        assert meta['style'] == style
        if layer_scale is None:
            assert meta['layer_scale'] is None
        else:  # the first block's mean gamma, a perturbed 0.1
            assert abs(meta['layer_scale'] - layer_scale) < 0.05
        outputs = []
        for path in (src, out):
            model = ZeroI2VViT(
                arch=ARCH,
                num_frames=2,
                style=style,
                layer_scale=meta['layer_scale'],
                pretrained=str(path)).eval()
            model.init_weights()
            with torch.no_grad():
                outputs.append(model(x))
        assert torch.equal(*outputs)
