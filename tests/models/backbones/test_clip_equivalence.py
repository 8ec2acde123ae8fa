"""With adaptation off, the backbone is open_clip's image encoder per frame."""
import open_clip
import pytest
import torch

from zeroi2v_mm.models import ZeroI2VViT


def _visual_features(clip_model, frames):
    visual = clip_model.visual
    visual.proj = None  # compare before the image-text projection
    with torch.no_grad():
        return visual(frames)


@pytest.fixture(scope='module')
def openclip_b16(tmp_path_factory):
    """A randomly initialised open_clip ViT-B-16 (GELU) saved as a state
    dict."""
    torch.manual_seed(0)
    model = open_clip.create_model('ViT-B-16', pretrained=None).eval()
    path = tmp_path_factory.mktemp('ckpt') / 'open_clip_vit_b16.pth'
    torch.save(model.state_dict(), path)
    return model, path


def test_vit_b16_equals_open_clip_frame_by_frame(openclip_b16):
    clip_model, path = openclip_b16
    backbone = ZeroI2VViT(
        arch='ViT-B/16',
        num_frames=2,
        pretrained=str(path),
        act='gelu',
        adapters=dict(num_adapters=4, scale=0.5))
    backbone.init_weights()
    backbone.eval()
    torch.manual_seed(1)
    clip = torch.randn(1, 3, 2, 224, 224)
    with torch.no_grad():
        ours = backbone(clip)[:, :, :, 0, 0]  # (1, 768, 2)
    reference = _visual_features(clip_model, clip[0].transpose(0, 1))
    assert ours.shape == (1, 768, 2)
    diff = (ours[0].T - reference).abs().max().item()
    assert diff <= 1e-4, diff


def _tiny_clip(act_layer_quick: bool):
    cfg = dict(
        embed_dim=32,
        quick_gelu=act_layer_quick,
        vision_cfg=dict(
            image_size=32, layers=2, width=64, patch_size=8, head_width=16),
        text_cfg=dict(
            context_length=8, vocab_size=50, width=32, heads=2, layers=1))
    return open_clip.CLIP(**cfg).eval()


def test_openai_state_dict_format_quickgelu(tmp_path):
    """OpenAI CLIP checkpoints are whole-model state dicts with QuickGELU."""
    torch.manual_seed(0)
    clip_model = _tiny_clip(act_layer_quick=True)
    path = tmp_path / 'openai_format.pt'
    torch.save(clip_model.state_dict(), path)
    arch = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)
    backbone = ZeroI2VViT(arch=arch, num_frames=3, pretrained=str(path))
    backbone.init_weights()
    backbone.eval()
    clip = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        ours = backbone(clip)[..., 0, 0]  # (2, 64, 3)
    frames = clip.transpose(1, 2).flatten(0, 1)
    reference = _visual_features(clip_model, frames).view(2, 3, 64)
    assert (ours.transpose(1, 2) - reference).abs().max() <= 1e-5


def test_openai_jit_archive(tmp_path):
    """The JIT archive OpenAI distributes: a TorchScript module with
    visual.*"""
    torch.manual_seed(0)
    clip_model = _tiny_clip(act_layer_quick=True)

    class Archive(torch.nn.Module):

        def __init__(self, visual):
            super().__init__()
            self.visual = visual

        def forward(self, x):
            return self.visual(x)

    path = tmp_path / 'ViT-tiny.pt'
    traced = torch.jit.trace(
        Archive(clip_model.visual),
        torch.randn(1, 3, 32, 32),
        check_trace=False)
    torch.jit.save(traced, str(path))
    arch = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)
    backbone = ZeroI2VViT(arch=arch, num_frames=2, pretrained=str(path))
    backbone.init_weights()
    backbone.eval()
    clip = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        ours = backbone(clip)[0, :, :, 0, 0].T
    reference = _visual_features(clip_model, clip[0].transpose(0, 1))
    assert (ours - reference).abs().max() <= 1e-5


def test_gelu_mismatch_is_detectable(tmp_path):
    """Loading QuickGELU weights with act='gelu' changes features: the act
    option is real (guards against a test that passes for any activation)."""
    torch.manual_seed(0)
    clip_model = _tiny_clip(act_layer_quick=True)
    path = tmp_path / 'openai_format.pt'
    torch.save(clip_model.state_dict(), path)
    arch = dict(width=64, layers=2, heads=4, patch_size=8, image_size=32)
    backbone = ZeroI2VViT(
        arch=arch, num_frames=1, pretrained=str(path), act='gelu').eval()
    backbone.init_weights()
    clip = torch.randn(1, 3, 1, 32, 32)
    with torch.no_grad():
        ours = backbone(clip)[0, :, 0, 0, 0]
    reference = _visual_features(clip_model, clip[:, :, 0])[0]
    assert (ours - reference).abs().max() > 1e-4
