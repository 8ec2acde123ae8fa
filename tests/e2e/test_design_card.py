"""The design card's three usages, spelled exactly as the README and
docs/en/get_started.md write them, at tiny scale on synthetic videos:

- ``mim train mmaction configs/zeroi2v_k400.py``
- ``bash tools/dist_train.sh configs/zeroi2v_k400.py 2``
- ``custom_imports = dict(imports=['zeroi2v_mm'])`` in a config of an
  external MMAction2 project, with ``MergeAdaptersHook``.

The short-named configs must be the recommended MMAction2-named configs
(inherited, not copied): a test compares the built configs.
"""
import os.path as osp

import pytest
from mmengine.config import Config

from helpers import REPO, run_cli

# design-card name -> the MMAction2-named config it stands for
SHORT_NAMES = {
    'configs/zeroi2v_k400.py':
    'configs/recognition/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py',
    'configs/zeroi2v_ssv2.py':
    'configs/recognition/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_u8-50e_sthv2-rgb.py',
    'configs/zeroi2v_ava.py':
    'configs/detection/zeroi2v/'
    'zeroi2v_clip-vit-base-p16_8x8x1-20e_ava22-rgb.py',
}


def k400_tiny_options(data_dir: str, num_classes: int = 10):
    """--cfg-options shrinking configs/zeroi2v_k400.py to a seconds-long CPU
    run on tests/helpers.make_tiny_videos data. The config's own pipelines
    stay (224-px crops): 32-px patches keep the ViT at 7 x 7 tokens."""
    videos = osp.join(data_dir, 'videos')
    options = [
        'model.backbone.arch._delete_=True',
        'model.backbone.arch.width=64',
        'model.backbone.arch.layers=2',
        'model.backbone.arch.heads=4',
        'model.backbone.arch.patch_size=32',
        'model.backbone.arch.image_size=224',
        'model.backbone.pretrained=None',
        'model.cls_head.in_channels=64',
        f'model.cls_head.num_classes={num_classes}',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1',
        # 8 of the training clips: two steps per process is enough here
        'train_dataloader.dataset.indices=8',
    ]
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'), ('test_dataloader',
                                                      'val')):
        options += [
            f'{loader}.batch_size=4',
            f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
            f'{loader}.dataset.num_classes={num_classes}',
            f'{loader}.dataset.ann_file={data_dir}/{split}_list.txt',
            f'{loader}.dataset.data_prefix.video={videos}',
        ]
    return options


@pytest.mark.parametrize('short', sorted(SHORT_NAMES))
def test_short_name_is_the_recommended_config(short):
    source = open(osp.join(REPO, short)).read()
    assert '_base_' in source and 'dict(' not in source, (
        f'{short} must inherit its MMAction2-named config, not copy it')
    child = Config.fromfile(osp.join(REPO, short))
    parent = Config.fromfile(osp.join(REPO, SHORT_NAMES[short]))
    child_dict, parent_dict = child.to_dict(), parent.to_dict()
    assert child_dict == parent_dict


@pytest.mark.slow
def test_mim_train_short_k400_name_with_tensorboard(tiny_data, tmp_path):
    """The TensorBoard block of docs/en/user_guides/train_test.md, which is
    the design card's `mim train mmaction configs/zeroi2v_k400.py` plus the
    TensorBoard option, run as written plus the options that make it tiny."""
    import glob
    import shlex

    from helpers.doc_snippets import marked, shell_commands
    blocks = marked('tests/e2e/test_design_card.py::'
                    'test_mim_train_short_k400_name_with_tensorboard')
    assert len(blocks) == 1
    (command, ) = shell_commands(blocks[0].code)
    assert command == ('mim train mmaction configs/zeroi2v_k400.py '
                       '--cfg-options '
                       'visualizer.vis_backends.0.type=TensorboardVisBackend')
    work_dir = str(tmp_path / 'work')
    command += ' ' + ' '.join(
        shlex.quote(o) for o in k400_tiny_options(tiny_data))
    log = run_cli(['bash', '-c', command + f' --work-dir {work_dir}'])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth')), log[-3000:]
    # the K400 recipe ran (its sampling), and the merge hook wrote the
    # deployed model under the short name
    dumped = open(osp.join(work_dir, 'zeroi2v_k400.py')).read()
    assert 'frame_interval=16' in dumped
    assert osp.isfile(osp.join(work_dir, 'zeroi2v_k400_merged.pth'))
    # the training scalars and the merge report went to TensorBoard
    assert glob.glob(
        osp.join(work_dir, '**', 'events.out.tfevents.*'), recursive=True)


@pytest.mark.slow
def test_dist_train_short_k400_name_two_processes(tiny_data, tmp_path):
    work_dir = str(tmp_path / 'ddp')
    log = run_cli([
        'bash', 'tools/dist_train.sh', 'configs/zeroi2v_k400.py', '2',
        '--work-dir', work_dir, '--cfg-options', *k400_tiny_options(tiny_data)
    ])
    assert 'Distributed training: True' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert osp.isfile(osp.join(work_dir, 'zeroi2v_k400_merged.pth'))


# A config of an MMAction2 project outside this repository: MMAction2's
# runtime, the plugin by custom_imports, the merge hook. The same text as
# docs/en/get_started.md ("Use it in your own MMAction2 project"), at tiny
# scale.
EXTERNAL_CONFIG = '''
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(imports=['zeroi2v_mm'], allow_failed_imports=False)

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ZeroI2VViT',
        arch=dict(width=64, layers=2, heads=4, patch_size=8, image_size=32),
        num_frames=8,
        pretrained=None,
        stdha=dict(offsets=[(-1, 1), (1, 1)]),
        adapters=dict(num_adapters=4, ratio=0.25, scale=0.5, dropout=0.1)),
    cls_head=dict(type='ZeroI2VHead', num_classes=10, in_channels=64,
                  average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor',
                           mean=[122.769, 116.74, 104.04],
                           std=[68.493, 66.63, 70.321], format_shape='NCTHW'))
# fold the adapters into the frozen weights after training: the deployed
# model is the plain image ViT (work_dir/<config>_merged.pth)
custom_hooks = [dict(type='MergeAdaptersHook')]

pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
DATA = '{data}'
train_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='VideoDataset', ann_file=DATA + '/train_list.txt',
                 data_prefix=dict(video=DATA + '/videos'), pipeline=pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file=DATA + '/val_list.txt',
                 data_prefix=dict(video=DATA + '/videos'), pipeline=pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
'''


@pytest.mark.slow
def test_external_project_custom_imports_with_merge_hook(tiny_data, tmp_path):
    project = tmp_path / 'my_project'
    project.mkdir()
    (project /
     'my_zeroi2v.py').write_text(EXTERNAL_CONFIG.format(data=tiny_data))
    # only the installed package: no path into this repository
    log = run_cli(['mim', 'train', 'mmaction', 'my_zeroi2v.py'],
                  cwd=project,
                  PYTHONPATH='')
    work_dir = project / 'work_dirs' / 'my_zeroi2v'
    assert (work_dir / 'epoch_1.pth').is_file()
    assert (work_dir / 'my_zeroi2v_merged.pth').is_file(), log[-3000:]
