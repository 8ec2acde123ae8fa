"""RoI pooling for AVA without mmcv.ops (ZeroI2VRoIExtractor3D): the
torchvision path samples what mmcv's RoIAlign samples (a reference written
out from its definition, and mmcv itself where its ops exist), trains, and
refuses what it cannot do."""
import math

import numpy as np
import pytest
import torch

from zeroi2v_mm.models.roi_extractors import (TorchvisionRoIAlign,
                                              ZeroI2VRoIExtractor3D,
                                              build_roi_layer,
                                              mmcv_ops_available)

needs_mmcv_ops = pytest.mark.skipif(
    not mmcv_ops_available(),
    reason='mmcv.ops is not importable (mmcv-lite has no compiled ops; full '
    'mmcv 2.1.0 is needed to compare against MMAction2\'s mmcv RoIAlign)')


def _bilinear(feature: np.ndarray, y: float, x: float) -> np.ndarray:
    """mmcv/Detectron2 bilinear sample of (C, H, W) at (y, x)."""
    height, width = feature.shape[1:]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(feature.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * feature[:, y_low, x_low] +
            hy * lx * feature[:, y_low, x_high] +
            ly * hx * feature[:, y_high, x_low] +
            ly * lx * feature[:, y_high, x_high])


def naive_roi_align(features, rois, output_size, spatial_scale, sampling_ratio,
                    aligned, pool_mode):
    """RoIAlign written out point by point from mmcv's definition."""
    features = features.double().numpy()
    out_h, out_w = output_size
    outputs = np.zeros((len(rois), features.shape[1], out_h, out_w))
    for index, roi in enumerate(rois.numpy().astype(np.float32)):
        feature = features[int(roi[0])]
        offset = np.float32(0.5 if aligned else 0.0)
        scale = np.float32(spatial_scale)
        x1, y1, x2, y2 = (roi[1:] * scale - offset).astype(np.float32)
        roi_w, roi_h = np.float32(x2 - x1), np.float32(y2 - y1)
        if not aligned:
            roi_w, roi_h = max(roi_w, np.float32(1)), max(roi_h, np.float32(1))
        bin_h, bin_w = float(roi_h) / out_h, float(roi_w) / out_w
        grid_h = sampling_ratio or int(math.ceil(roi_h / np.float32(out_h)))
        grid_w = sampling_ratio or int(math.ceil(roi_w / np.float32(out_w)))
        for ph in range(out_h):
            for pw in range(out_w):
                values = [
                    _bilinear(feature,
                              y1 + ph * bin_h + (iy + .5) * bin_h / grid_h,
                              x1 + pw * bin_w + (ix + .5) * bin_w / grid_w)
                    for iy in range(grid_h) for ix in range(grid_w)
                ]
                if pool_mode == 'avg':
                    outputs[index, :, ph, pw] = (
                        np.sum(values, axis=0) /
                        max(grid_h * grid_w, 1) if values else 0.0)
                else:
                    outputs[index, :, ph, pw] = (
                        np.max(values, axis=0) if values else -10000.0)
    return torch.from_numpy(outputs)


def _rois(image_h: int, image_w: int, count: int = 12) -> torch.Tensor:
    """Boxes in image pixels of every kind: inside, across the border,
    outside, thinner than a pixel, empty; batch index 0 or 1."""
    generator = torch.Generator().manual_seed(0)
    x1 = torch.rand(count, generator=generator) * image_w * 1.2 - 0.1 * image_w
    y1 = torch.rand(count, generator=generator) * image_h * 1.2 - 0.1 * image_h
    w = torch.rand(count, generator=generator) * image_w * 0.8
    h = torch.rand(count, generator=generator) * image_h * 0.8
    batch = torch.randint(0, 2, (count, ), generator=generator).float()
    rois = torch.stack([batch, x1, y1, x1 + w, y1 + h], dim=1)
    special = torch.tensor([
        [0, 3.3, 5.1, 3.6, 5.2],  # thinner than a pixel
        [1, 10.0, 10.0, 10.0, 10.0],  # empty
        [1, -8.0, -8.0, image_w + 8.0, image_h + 8.0],  # covers the image
        [0, 0.0, 0.0, image_w, image_h],
    ])
    return torch.cat([rois, special])


@pytest.mark.parametrize('pool_mode', ['avg', 'max'])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_torchvision_roi_align_matches_naive_reference(pool_mode, aligned,
                                                       sampling_ratio):
    """The torchvision path samples the same points with the same weights
    as mmcv's RoIAlign (reference written out from its definition)."""
    torch.manual_seed(0)
    stride = 4
    features = torch.randn(2, 3, 7, 9)
    rois = _rois(7 * stride, 9 * stride)
    if aligned:  # mmcv refuses negative sizes with aligned=True
        rois = rois[(rois[:, 3] >= rois[:, 1]) & (rois[:, 4] >= rois[:, 2])]
    layer = TorchvisionRoIAlign((3, 2), 1 / stride, sampling_ratio, pool_mode,
                                aligned)
    got = layer(features, rois)
    want = naive_roi_align(features, rois, (3, 2), 1 / stride, sampling_ratio,
                           aligned, pool_mode)
    assert got.shape == (len(rois), 3, 3, 2)
    assert (got.double() - want).abs().max() <= 1e-5


def test_extractor_uses_torchvision_without_mmcv_ops_and_trains():
    """With mmcv-lite, 'auto' pools with torchvision; the layer has the
    AVA settings (aligned, adaptive sampling, 1/16, avg) and passes
    gradients; the extractor computes MMAction2's forward (temporal mean,
    RoIAlign per frame, optional global feature)."""
    extractor = ZeroI2VRoIExtractor3D(output_size=8, featmap_stride=16)
    layer = extractor.roi_layer
    if not mmcv_ops_available():
        assert isinstance(layer, TorchvisionRoIAlign)
    assert (layer.aligned, layer.sampling_ratio, layer.spatial_scale,
            layer.pool_mode) == (True, 0, 1 / 16, 'avg')
    assert not list(extractor.parameters())  # state dict as MMAction2's

    feat = torch.randn(2, 16, 4, 14, 14, requires_grad=True)
    rois = torch.tensor([[0, 10., 20., 120., 200.], [1, 0., 0., 224., 224.]])
    roi_feats, pooled = extractor(feat, rois)
    assert roi_feats.shape == (2, 16, 1, 8, 8)
    reference = TorchvisionRoIAlign(8, 1 / 16)(feat.mean(2), rois)
    assert torch.allclose(roi_feats[:, :, 0], reference, atol=1e-6)
    roi_feats.sum().backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0

    per_frame = ZeroI2VRoIExtractor3D(
        output_size=4,
        with_temporal_pool=False,
        with_global=True,
        backend='torchvision')
    roi_feats, _ = per_frame(feat.detach(), rois)
    assert roi_feats.shape == (2, 32, 4, 4, 4)  # RoI + global channels


def test_extractor_refuses_what_it_cannot_do():
    if not mmcv_ops_available():
        with pytest.raises(ImportError, match='full mmcv'):
            ZeroI2VRoIExtractor3D(backend='mmcv')
        with pytest.raises(NotImplementedError, match='RoIAlign'):
            ZeroI2VRoIExtractor3D(roi_layer_type='RoIPool')
    with pytest.raises(ValueError, match='backend'):
        build_roi_layer('RoIAlign', 8, 1 / 16, backend='cuda')
    with pytest.raises(ValueError, match='feature_map'):
        ZeroI2VRoIExtractor3D()(torch.randn(1, 8, 4, 4),
                                torch.tensor([[0, 0., 0., 8., 8.]]))


@needs_mmcv_ops
@pytest.mark.parametrize('with_temporal_pool', [True, False])
@pytest.mark.parametrize('aligned', [True, False])
def test_extractor_equals_mmaction_single_roi_extractor_with_mmcv(
        with_temporal_pool, aligned):
    """Where mmcv.ops exists: MMAction2's SingleRoIExtractor3D (mmcv
    RoIAlign) and ours on torchvision give the same features."""
    from mmaction.models.roi_heads.roi_extractors import SingleRoIExtractor3D
    kwargs = dict(
        output_size=8,
        featmap_stride=16,
        aligned=aligned,
        with_temporal_pool=with_temporal_pool)
    theirs = SingleRoIExtractor3D(**kwargs)
    ours = ZeroI2VRoIExtractor3D(backend='torchvision', **kwargs)
    torch.manual_seed(0)
    feat = torch.randn(2, 16, 4, 14, 14)
    rois = _rois(224, 224)
    rois = rois[(rois[:, 3] >= rois[:, 1]) & (rois[:, 4] >= rois[:, 2])]
    assert torch.allclose(
        ours(feat, rois)[0], theirs(feat, rois)[0], atol=1e-5)
    for pool_mode in ('avg', 'max'):
        mmcv_layer = build_roi_layer(
            'RoIAlign', 8, 1 / 16, 0, pool_mode, aligned, backend='mmcv')
        tv_layer = build_roi_layer(
            'RoIAlign',
            8,
            1 / 16,
            0,
            pool_mode,
            aligned,
            backend='torchvision')
        assert torch.allclose(
            tv_layer(feat[:, :, 0], rois),
            mmcv_layer(feat[:, :, 0], rois),
            atol=1e-5)
