"""Spatio-temporal action detection (AVA) with the ZeroI2V backbone: the
clear error without mmdet, the synthetic AVA-format data read by MMAction2's
AVADataset, the AVA config, and the merge leaving the box head alone. RoI
pooling without mmcv.ops: tests/models/roi_extractors/; the tiny train ->
merge -> test run: tests/e2e/test_ava_e2e.py."""
import copy
import sys

import pytest
import torch
from mmengine.config import Config

from mmaction.registry import DATASETS, MODELS
from zeroi2v_mm.compat import mmcv_ops_placeholders_installed
from zeroi2v_mm.models.detectors import require_mmdet
from zeroi2v_mm.models.roi_extractors import mmcv_ops_available
from zeroi2v_mm.reparam import count_adapted_linears, merge_adapters

from helpers import randomize_adapters
from helpers.ava import (FULL_CONFIG, needs_mmdet, tiny_detector_cfg,
                         val_dataset_cfg)


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


def test_synthetic_ava_is_read_by_mmaction_ava_dataset(tmp_path):
    from zeroi2v_mm.testing import synthetic_ava as tool
    root = tmp_path / 'ava'
    counts = tool.make_dataset(root, train_videos=2, val_videos=2)
    assert counts['val'] == dict(videos=2, keyframes=10, boxes=20, excluded=1)
    anno = root / 'annotations'
    dataset = DATASETS.build(
        val_dataset_cfg(
            root,
            exclude_file=str(anno / 'ava_val_excluded_timestamps_v2.2.csv'),
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


@needs_mmdet
def test_merge_folds_backbone_adapters_and_leaves_the_box_head_alone():
    cfg = tiny_detector_cfg()
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
