"""Spatio-temporal action detection (AVA) with the ZeroI2V backbone:
RoI pooling without mmcv.ops, the clear error without mmdet, the synthetic
AVA-format data, the merge leaving the box head alone, and a tiny
train -> merge -> test run whose merged detections and AVAMetric mAP equal
the unmerged model's."""
import copy
import json
import math
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmaction.registry import DATASETS, MODELS
from zeroi2v_mm.compat import mmcv_ops_placeholders_installed
from zeroi2v_mm.models.detectors import mmdet_available, require_mmdet
from zeroi2v_mm.models.roi_extractors import (TorchvisionRoIAlign,
                                              ZeroI2VRoIExtractor3D,
                                              build_roi_layer,
                                              mmcv_ops_available)
from zeroi2v_mm.reparam import count_adapted_linears, merge_adapters

from conftest import randomize_adapters
from helpers import REPO, VENV_BIN

CONFIG = osp.join(REPO, 'configs/demo/zeroi2v_ava_synthetic.py')
FULL_CONFIG = osp.join(
    REPO, 'configs/detection/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py')
STEM = 'zeroi2v_ava_synthetic'  # the merge hook names its files after it
# The demo config, made seconds-long for CI (its data paths are relative:
# runs happen in a folder holding data/synthetic_ava).
TINY_OPTIONS = {
    'model.backbone.arch.width': 64,
    'model.backbone.arch.layers': 2,
    'model.backbone.arch.heads': 4,
    'model.roi_head.bbox_head.in_channels': 64
}
TINY = [f'{key}={value}' for key, value in TINY_OPTIONS.items()]

needs_mmdet = pytest.mark.skipif(
    not mmdet_available(),
    reason='mmdet is not installed (pip install mmdet==3.3.0, extra [ava])')
needs_mmcv_ops = pytest.mark.skipif(
    not mmcv_ops_available(),
    reason='mmcv.ops is not importable (mmcv-lite has no compiled ops; full '
    'mmcv 2.1.0 is needed to compare against MMAction2\'s mmcv RoIAlign)')


# ------------------------------------------------------- RoI pooling
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


# ------------------------------------------------------- mmdet missing
def test_ava_config_without_mmdet_says_how_to_install(monkeypatch):
    """Building the AVA detector without mmdet fails with the install
    command, not with MMAction2's 'FastRCNN is not in the registry'."""
    cfg = Config.fromfile(FULL_CONFIG)
    cfg.model.backbone.pretrained = None
    monkeypatch.setitem(sys.modules, 'mmdet', None)  # import mmdet fails
    with pytest.raises(ImportError) as error:
        MODELS.build(cfg.model)
    message = str(error.value)
    assert 'pip install mmdet==3.3.0' in message and '[ava]' in message
    assert 'not in the registry' in message  # names the symptom it replaces
    with pytest.raises(ImportError, match='pip install mmdet==3.3.0'):
        require_mmdet()


# ------------------------------------------------------- synthetic data
def test_synthetic_ava_is_read_by_mmaction_ava_dataset(tmp_path):
    from zeroi2v_mm.testing import synthetic_ava as tool
    root = tmp_path / 'ava'
    counts = tool.make_dataset(root, train_videos=2, val_videos=2)
    assert counts['val'] == dict(videos=2, keyframes=10, boxes=20, excluded=1)
    anno = root / 'annotations'
    dataset = DATASETS.build(
        dict(
            type='AVADataset',
            ann_file=str(anno / 'ava_val_v2.2.csv'),
            exclude_file=str(anno / 'ava_val_excluded_timestamps_v2.2.csv'),
            label_file=str(anno / tool.LABEL_FILE),
            proposal_file=str(anno / tool.proposal_name('val')),
            data_prefix=dict(img=str(root / 'rawframes')),
            num_classes=5,
            fps=8,
            timestamp_start=900,
            timestamp_end=906,
            test_mode=True,
            pipeline=[
                dict(
                    type='SampleAVAFrames',
                    clip_len=8,
                    frame_interval=1,
                    test_mode=True),
                dict(type='RawFrameDecode'),
                dict(type='FormatShape', input_format='NCTHW', collapse=True),
                dict(type='PackActionInputs')
            ]))
    assert len(dataset) == 9  # 10 keyframes, 1 excluded
    info = dataset.get_data_info(0)
    # Two actors, one action each; the low-score proposal is dropped.
    assert info['gt_bboxes'].shape == (2, 4)
    assert info['gt_labels'].sum(1).tolist() == [1.0, 1.0]
    assert info['proposals'].shape == (3, 4)
    sample = dataset[0]
    assert sample['inputs'].shape == (3, 8, 64, 64)
    assert sample['data_samples'].proposals.bboxes.max() > 1  # in pixels
    labels = {
        line.split(',')[6]
        for line in (anno / 'ava_train_v2.2.csv').read_text().split()
    }
    assert labels == {'1', '2', '3', '4'}  # every action in every split


# ------------------------------------------------------- the AVA config
@needs_mmdet
def test_ava_config_is_consistent_and_its_pipelines_run(tmp_path):
    """configs/detection/zeroi2v/zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py:
    ViT-B/16 CLIP backbone returning its patch
    feature map, RoIs pooled at its stride, 8-frame 224x224 clips (boxes
    follow the resize, crop and flip), top-60 evaluation settings, merge
    hook; the pipelines run on AVA-format frames."""
    cfg = Config.fromfile(FULL_CONFIG)
    backbone, roi_head = cfg.model.backbone, cfg.model.roi_head
    assert cfg.model.type == 'ZeroI2VFastRCNN'
    assert (backbone.arch, backbone.output,
            backbone.num_frames) == ('ViT-B/16', 'feature_map', 8)
    assert roi_head.bbox_roi_extractor.featmap_stride == 16
    assert roi_head.bbox_head.in_channels == 768
    assert roi_head.bbox_head.num_classes == 81  # 80 trained, 60 evaluated
    assert cfg.val_evaluator.label_file.endswith(
        'ava_action_list_v2.2_for_activitynet_2019.pbtxt')
    assert cfg.val_dataloader.batch_size == 1  # AVARoIHead predicts 1 clip
    assert [h.type for h in cfg.custom_hooks] == ['MergeAdaptersHook']

    cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model)
    assert model.backbone.patch_size == 16
    assert model.backbone.grid_size == (14, 14)
    assert count_adapted_linears(model) == 48  # 4 per block, 12 blocks

    from zeroi2v_mm.testing import synthetic_ava as tool
    root = tmp_path / 'ava'
    tool.make_dataset(
        root, train_videos=1, val_videos=1, seconds=3, fps=30, size=96)
    anno = root / 'annotations'
    for split, loader in (('train', cfg.train_dataloader),
                          ('val', cfg.val_dataloader)):
        dataset_cfg = copy.deepcopy(loader.dataset)
        dataset_cfg.update(
            ann_file=str(anno / f'ava_{split}_v2.2.csv'),
            exclude_file=str(anno / tool.exclude_name(split)),
            label_file=str(anno / tool.LABEL_FILE),
            proposal_file=str(anno / tool.proposal_name(split)),
            data_prefix=dict(img=str(root / 'rawframes')),
            timestamp_end=903)
        sample = DATASETS.build(dataset_cfg)[0]
        assert sample['inputs'].shape == (3, 8, 224, 224)
        proposals = sample['data_samples'].proposals.bboxes
        assert proposals.min() >= 0 and proposals.max() <= 224


# ---------------------------------------------------- merge & detector
def _tiny_detector_cfg() -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY_OPTIONS)
    return cfg


@needs_mmdet
def test_merge_folds_backbone_adapters_and_leaves_the_box_head_alone():
    cfg = _tiny_detector_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    assert type(model).__name__ == 'ZeroI2VFastRCNN'
    if not mmcv_ops_available():
        assert mmcv_ops_placeholders_installed()
    randomize_adapters(model)
    with torch.no_grad():  # a trained-looking head
        for param in model.roi_head.parameters():
            param.add_(torch.randn_like(param))
    head_before = copy.deepcopy(model.roi_head.state_dict())
    merged = merge_adapters(copy.deepcopy(model)).eval()
    assert count_adapted_linears(model) == 8  # 4 per block, 2 blocks
    assert count_adapted_linears(merged) == 0
    head_after = merged.roi_head.state_dict()
    assert head_after.keys() == head_before.keys()
    for name, value in head_before.items():
        assert torch.equal(head_after[name], value), name

    # Same box logits; tensor mode without samples gives the features.
    from mmengine.structures import InstanceData

    from mmaction.structures import ActionDataSample
    clips = torch.randn(2, 3, 8, 64, 64)
    samples = []
    for boxes in ([[4., 4., 30., 30.], [20., 30., 60.,
                                        60.]], [[0., 0., 64., 64.]]):
        sample = ActionDataSample()
        sample.proposals = InstanceData(bboxes=torch.tensor(boxes))
        sample.set_metainfo(dict(img_shape=(64, 64)))
        samples.append(sample)
    with torch.no_grad():
        logits = model(clips, samples, mode='tensor')
        merged_logits = merged(clips, samples, mode='tensor')
        feats, merged_feats = model(clips), merged(clips)
    assert logits.shape == (3, 5)
    assert (logits - merged_logits).abs().max() <= 1e-5
    assert feats.shape == (2, 64, 8, 8, 8)
    assert (feats - merged_feats).abs().max() <= 1e-5

    # The merged weights are exactly the plain (adapters=None) detector's.
    plain_cfg = copy.deepcopy(cfg.model)
    plain_cfg.backbone.adapters = None
    plain = MODELS.build(plain_cfg)
    plain.load_state_dict(merged.state_dict(), strict=True)


# --------------------------------------------------- train, merge, test
def _run(args, cwd, timeout=300):
    """A CLI run with the venv first on PATH, in ``cwd``. One thread: the
    model is tiny, and spinning OpenMP threads on a busy CI machine cost
    more than they give."""
    env = dict(
        os.environ,
        PATH=VENV_BIN + os.pathsep + os.environ['PATH'],
        PYTHONUNBUFFERED='1')
    env.setdefault('OMP_NUM_THREADS', '1')
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f'{args} failed ({result.returncode}):\n'
                             f'{result.stdout[-3000:]}\n'
                             f'{result.stderr[-5000:]}')
    return result.stdout + result.stderr


def _metric_line(log: str) -> str:
    lines = [line for line in log.splitlines() if 'mAP/overall' in line]
    assert lines, log[-3000:]
    return lines[-1].split('mAP/overall:')[1].split()[0]


@pytest.mark.slow
@needs_mmdet
def test_tiny_ava_train_merge_test_end_to_end(tmp_path, monkeypatch):
    """tools/train.py on synthetic AVA (1 epoch; validation of the trained
    model with AVAMetric; MergeAdaptersHook), then tools/test.py of the
    merged checkpoint (adapters=None, strict): the same boxes and scores
    (<= 1e-5) as the trained model's, and the same AVAMetric mAP."""
    from zeroi2v_mm.testing import synthetic_ava as tool
    run_dir = tmp_path / 'run'
    tool.make_dataset(
        run_dir / 'data' / 'synthetic_ava', train_videos=2, val_videos=2)
    work = run_dir / 'work'
    python = osp.join(VENV_BIN, 'python')
    train_log = _run([
        python,
        osp.join(REPO, 'tools/train.py'), CONFIG, '--work-dir',
        str(work), '--cfg-options', *TINY, 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.save_best=None'
    ],
                     cwd=run_dir)
    unmerged_map = _metric_line(train_log)  # AVAMetric, trained model

    merged_ckpt = work / f'{STEM}_merged.pth'
    report_path = work / f'{STEM}_merged.json'
    assert merged_ckpt.is_file() and report_path.is_file(), train_log[-3000:]
    report = json.loads(report_path.read_text())
    assert report['passed'] and report['max_abs_diff'] <= 1e-4
    assert report['adapted_linears_before'] == 8
    assert report['adapted_linears_after'] == 0
    assert report['params']['after'] < report['params']['before']
    merged_state = torch.load(
        merged_ckpt, map_location='cpu', weights_only=False)['state_dict']
    trained_state = torch.load(
        work / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['state_dict']
    for name, value in trained_state.items():
        if name.startswith('roi_head.'):  # box head: bit-identical
            assert torch.equal(merged_state[name], value), name

    merged_log = _run([
        python,
        osp.join(REPO, 'tools/test.py'), CONFIG,
        str(merged_ckpt), '--work-dir',
        str(work / 'test_merged'), '--dump',
        str(work / 'merged.pkl'), '--cfg-options', *TINY,
        'model.backbone.adapters=None', 'custom_hooks=[]'
    ],
                      cwd=run_dir)
    assert 'do not match exactly' not in merged_log  # no missing keys
    assert _metric_line(merged_log) == unmerged_map
    with open(work / 'merged.pkl', 'rb') as f:
        merged = pickle.load(f)

    # The trained (unmerged) model's detections on the same clips, and the
    # merged checkpoint loaded strictly into the adapters=None detector.
    from mmengine.runner import Runner, load_checkpoint
    monkeypatch.chdir(run_dir)  # relative data paths; AVAMetric's temp CSV
    cfg = _tiny_detector_cfg()
    trained = MODELS.build(cfg.model)
    load_checkpoint(
        trained, str(work / 'epoch_1.pth'), map_location='cpu', strict=True)
    plain_cfg = copy.deepcopy(cfg.model)
    plain_cfg.backbone.adapters = None
    load_checkpoint(
        MODELS.build(plain_cfg),
        str(merged_ckpt),
        map_location='cpu',
        strict=True)
    trained.eval()
    unmerged = []
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.test_dataloader):
            unmerged += [
                sample.to_dict() for sample in trained.test_step(batch)
            ]
    assert len(unmerged) == len(merged) == 9  # val keyframes, 1 excluded
    for a, b in zip(unmerged, merged):
        assert (a['video_id'], a['timestamp']) == (b['video_id'],
                                                   b['timestamp'])
        assert torch.equal(a['pred_instances']['bboxes'],
                           b['pred_instances']['bboxes'])
        scores_a = a['pred_instances']['scores']
        assert scores_a.shape[1] == 5
        assert (scores_a - b['pred_instances']['scores']).abs().max() <= 1e-5

    # AVAMetric on both sets of detections: the same mAP, the one logged.
    from mmaction.evaluation import AVAMetric
    anno = 'data/synthetic_ava/annotations'
    maps = []
    for predictions in (unmerged, merged):
        metric = AVAMetric(
            ann_file=f'{anno}/ava_val_v2.2.csv',
            exclude_file=f'{anno}/ava_val_excluded_timestamps_v2.2.csv',
            label_file=f'{anno}/{tool.LABEL_FILE}',
            num_classes=5)
        metric.process(None, predictions)
        maps.append(metric.compute_metrics(metric.results)['overall'])
    assert maps[0] == maps[1]
    assert 0 <= maps[0] <= 1
    assert f'{maps[0]:.4f}' == unmerged_map
