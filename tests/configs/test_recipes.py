"""Every config's recipe equals its row in the table of
docs/en/user_guides/configs.md.

The table (section "Recipes") gives, per config, its source (a paper table or
a released config file of MCG-NJU/ZeroI2V or of a baseline's code) and every
recipe value. This test reads each config, derives the same values (the
optimiser's per-parameter learning rates and weight decays come from building
the optimiser with MMEngine on a tiny model of the config's kind), formats
them like the table and compares cell by cell: a config edit that drifts from
its documented source fails here, naming the config, the column and both
values. A config without a row, or a row without a config, fails too.
"""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.utils.dl_utils import is_norm

from helpers import REPO

DOC = osp.join(REPO, 'docs', 'en', 'user_guides', 'configs.md')
# Image pretraining (mmpretrain) has no video recipe; it is described in
# configs/demo/pretrain_image_synthetic.py itself.
NOT_IN_TABLE = {'configs/demo/pretrain_image_synthetic.py'}
CONFIGS = sorted(
    osp.relpath(path, REPO) for path in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, REPO).split(osp.sep)
    and osp.relpath(path, REPO) not in NOT_IN_TABLE)
# The released config files the Source column may name.
RELEASED = {
    'CLIP-B_k400_8x16x1.py', 'CLIP-L_k400_8x16x1.py', 'CLIP-L_k400_32x4x1.py',
    'CLIP-B_sthv2_u16.py', 'CLIP-L_sthv2_u32.py', 'CLIP-B_ucf101_u8_split1.py',
    'CLIP-B_ucf101_u32_split1.py', 'CLIP-B_hmdb51_u8_split1.py',
    'CLIP-B_hmdb51_u32_split1.py', 'vitclip_base_k400.py',
    'clip_vit_base_patch16_adapter12x384',
    'clip_vit_base_patch16_adapter24x384'
}
COLUMNS = ('config', 'source', 'arch', 'frames', 'sampling', 'STDHA',
           'adapters', 'method', 'frozen', 'drop path', 'epochs', 'lr',
           'backbone lr x', 'wd', 'no decay on', 'clip grad', 'warm-up',
           'cosine', 'AMP', 'RandAugment', 'erasing', 'label smooth',
           'val resize', 'test views')


def read_table():
    """The Recipes table of docs/en/user_guides/configs.md as
    ``{config: {column: cell}}``."""
    text = open(DOC).read()
    section = text.split('## Recipes', 1)
    assert len(section) == 2, f'{DOC} has no "## Recipes" section'
    body = section[1].split('\n## ', 1)[0].splitlines()
    start = next(
        (i for i, line in enumerate(body) if line.startswith('| config |')),
        None)
    assert start is not None, f'{DOC}: no "| config |" table under Recipes'
    lines = []
    for line in body[start:]:
        if not line.startswith('|'):
            break
        lines.append(line)
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    assert tuple(header) == COLUMNS, f'{DOC} Recipes columns: {header}'
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        assert len(cells) == len(COLUMNS), f'{DOC}: bad row {line!r}'
        name = cells[0].strip('`')
        assert name not in rows, f'{DOC}: {name} listed twice'
        rows[name] = dict(zip(COLUMNS, cells))
    return rows


TABLE = read_table()


# ------------------------------------------------------------ formatting
def fmt(value):
    if value is None or value is False:
        return '-'
    if value is True:
        return 'yes'
    if isinstance(value, float):
        return f'{value:g}'
    return str(value)


def fmt_offsets(stdha, per_stage=False):
    if not stdha or not stdha.get('offsets'):
        return '-'
    offsets = stdha['offsets']  # [(dt, heads), ...] in the configs
    if per_stage:  # ZeroI2VSwin: one entry per stage
        return ' / '.join(
            fmt_offsets(dict(offsets=stage)) for stage in offsets)
    pairs = offsets.items() if isinstance(offsets, dict) else offsets
    return '{' + ', '.join(f'{dt}: {n}' for dt, n in pairs) + '}'


def fmt_arch(arch):
    if isinstance(arch, str):
        return arch
    return f"w{arch['width']} L{arch['layers']} p{arch['patch_size']}"


def fmt_backbone_arch(backbone):
    if backbone['type'] == 'ZeroI2VSwin':
        return (f"Swin-{backbone.arch} t{backbone.get('tubelet', 1)} "
                f"w{backbone.get('window_size', 7)}")
    if backbone['type'] == 'UniFormerV2InTI':  # MMAction2's UniFormerV2
        name = {
            (768, 16): 'ViT-B/16',
            (1024, 14): 'ViT-L/14'
        }.get((backbone.width, backbone.patch_size),
              f'w{backbone.width} p{backbone.patch_size}')
        return f'UniFormerV2 {name}'
    style = backbone.get('style', 'clip')  # the image model's layout
    return fmt_arch(backbone.arch) + ('' if style == 'clip' else f' ({style})')


def fmt_adapters(adapters):
    if not adapters:
        return '-'
    return (f"{adapters.get('num_adapters', 4)}, s{adapters['scale']:g}, "
            f"p{adapters['dropout']:g}")


def fmt_method(backbone):
    peft, compress = backbone.get('peft'), backbone.get('compress')
    parts = []
    if peft:
        kind = peft['type']
        if kind == 'AIM':
            parts.append(f"AIM t{peft.get('num_tadapter', 2)}")
        elif kind == 'STAdapter':
            parts.append('ST-Adapter ' + '+'.join(peft['positions']) +
                         f" {peft['channels']}")
        elif kind == 'LoRA':
            parts.append(f"LoRA r{peft['rank']} a{peft['alpha']:g} " +
                         '+'.join(peft['targets']) +
                         (' qkv-split' if peft.get('split_qkv') else ''))
        elif kind == 'GELUAdapter':
            parts.append(f"GELU adapter s{peft['scale']:g}")
        else:
            parts.append(kind)
    if compress:
        parts.append(f"{compress['type']} " +
                     ','.join(str(b) for b in compress['after_blocks']))
    return '; '.join(parts) or '-'


def sampler(pipeline):
    return next(step for step in pipeline
                if step['type'] in ('SampleFrames', 'UniformSample',
                                    'SampleAVAFrames'))


def fmt_sampling(pipeline):
    step = sampler(pipeline)
    if step['type'] == 'UniformSample':
        return 'uniform'
    prefix = 'AVA ' if step['type'] == 'SampleAVAFrames' else ''
    return f"{prefix}{step['clip_len']}x{step['frame_interval']}"


def fmt_test_views(pipeline):
    temporal = sampler(pipeline).get('num_clips', 1)
    spatial = 3 if any(s['type'] == 'ThreeCrop' for s in pipeline) else 1
    return f'{temporal}x{spatial}'


def fmt_resize(pipeline):
    resize = next(s for s in pipeline if s['type'] == 'Resize')
    width, height = resize['scale']
    return str(height) if width == -1 else f'{width}x{height}'


def fmt_randaugment(pipeline):
    types = [step['type'] for step in pipeline]
    if 'VideoRandAugment' not in types:
        assert not any('RandAugment' in str(step) for step in pipeline), \
            'a RandAugment other than VideoRandAugment'
        return '-'
    step = pipeline[types.index('VideoRandAugment')]
    where = ('before crop' if types.index('VideoRandAugment')
             < types.index('RandomResizedCrop') else 'after flip')
    return f"m{step['magnitude']} n{step['num_layers']} {where}"


def fmt_erasing(pipeline):
    step = next((s for s in pipeline if s['type'] == 'RandomErasing'), None)
    if step is None:
        return '-'
    return f"{step['erase_prob']:g} {step.get('mode', 'const')}"


def fmt_schedule(cfg):
    schedulers = {s['type']: s for s in cfg.param_scheduler}
    assert set(schedulers) <= {'LinearLR', 'CosineAnnealingLR'}, schedulers
    warm = schedulers.get('LinearLR')
    cos = schedulers['CosineAnnealingLR']
    unit = lambda s: 'it' if s.get('convert_to_iter_based') else 'ep'  # noqa
    warm_cell = ('-' if warm is None else
                 f"{warm['start_factor']:g} x {warm['end'] - warm['begin']:g}"
                 f' {unit(warm)}')
    # a cosine must reach its minimum exactly at its end
    assert cos['T_max'] == cos['end'] - cos['begin'], cos
    assert cos['end'] == cfg.train_cfg.max_epochs, cos
    return warm_cell, f"{cos['begin']:g}-{cos['end']:g} {unit(cos)}"


# ---------------------------------------------- optimiser, actually built
def tiny_model(cfg):
    """The config's model with a tiny backbone (same options, random
    init, no weights file), enough to build the optimiser."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    model_cfg = cfg.model.to_dict()
    backbone = model_cfg['backbone']
    compress = backbone.get('compress')
    layers = max(compress['after_blocks']) + 1 if compress else 2
    if backbone['type'] == 'ZeroI2VSwin':  # 4 stages of 1 block, width 32
        backbone.update(
            arch=dict(
                embed_dims=32, depths=[1, 1, 1, 1], num_heads=[4, 8, 16, 32]),
            pretrained=None)
        model_cfg['cls_head']['in_channels'] = 256
    # InTI^temp (configs/recognition/inti/)
    elif backbone['type'] == 'UniFormerV2InTI':
        layers = max([layers] + [i + 1 for i in backbone['return_list']])
        backbone.update(
            width=64,
            layers=layers,
            heads=4,
            n_dim=64,
            n_head=4,
            input_resolution=32,
            pretrained=None)
        model_cfg['cls_head']['in_channels'] = 64
    else:
        backbone.update(
            arch=dict(
                width=64,
                layers=layers,
                heads=16,
                patch_size=16,
                image_size=32),
            pretrained=None)
    if backbone.get('peft', {}).get('type') == 'STAdapter':
        backbone['peft']['channels'] = 8
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(model_cfg)


def optimiser_cells(cfg):
    """'backbone lr x', 'no decay on' and the head's lr multiplier, from
    the param groups MMEngine builds for this config."""
    model = tiny_model(cfg)
    with DefaultScope.overwrite_default_scope('mmaction'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'OptimWrapper'  # CPU: fp32
    base_lr = cfg.optim_wrapper.optimizer.lr
    group_of = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            group_of[id(param)] = group
    backbone_mults, head_mults, zero_decay, some_decay = set(), set(), set(
    ), set()
    for module_name, module in model.named_modules():
        for short, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            group = group_of[id(param)]
            mult = round(group['lr'] / base_lr, 6)
            (backbone_mults
             if module_name.startswith('backbone') else head_mults).add(mult)
            # the categories MMEngine's paramwise options act on
            kind = ('norm' if is_norm(module) else
                    'emb' if short.endswith('embedding') else
                    'relpos' if short == 'relative_position_bias_table' else
                    'bias' if short == 'bias' else 'weight')
            (zero_decay
             if group['weight_decay'] == 0 else some_decay).add(kind)
    mixed = zero_decay & some_decay
    assert not mixed, f'{sorted(mixed)} partly decayed'
    assert head_mults == {1.0}, f'head lr multipliers {head_mults}'
    no_decay = ', '.join(
        k for k in ('emb', 'norm', 'bias', 'relpos') if k in zero_decay) or '-'
    return '/'.join(f'{m:g}' for m in sorted(backbone_mults)), no_decay


def recipe(path):
    """Every column of the table, derived from the config at ``path``."""
    cfg = Config.fromfile(osp.join(REPO, path))
    backbone = cfg.model.backbone
    train = cfg.train_dataloader.dataset.pipeline
    val = cfg.val_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    head = cfg.model.get('cls_head') or {}
    warm, cos = fmt_schedule(cfg)
    backbone_lr, no_decay = optimiser_cells(cfg)
    clip = cfg.optim_wrapper.get('clip_grad')
    # UniFormerV2 trains everything; its ViT's stochastic depth is
    # backbone_drop_path_rate (drop_path_rate is its global blocks')
    uniformer = ('backbone_drop_path_rate'
                 if backbone['type'] == 'UniFormerV2InTI' else None)
    return {
        'arch':
        fmt_backbone_arch(backbone),
        'frames':
        fmt(backbone.get('num_frames', backbone.get('t_size'))),
        'sampling':
        fmt_sampling(train),
        'STDHA':
        fmt_offsets(
            backbone.get('stdha'),
            per_stage=backbone['type'] == 'ZeroI2VSwin'),
        'adapters':
        fmt_adapters(backbone.get('adapters')),
        'method':
        fmt_method(backbone),
        'frozen':
        fmt(backbone.get('freeze_pretrained', uniformer is None)),
        'drop path':
        fmt(backbone.get(uniformer or 'drop_path_rate') or None),
        'epochs':
        fmt(cfg.train_cfg.max_epochs),
        'lr':
        fmt(cfg.optim_wrapper.optimizer.lr),
        'backbone lr x':
        backbone_lr,
        'wd':
        fmt(cfg.optim_wrapper.optimizer.weight_decay),
        'no decay on':
        no_decay,
        'clip grad':
        fmt(clip['max_norm'] if clip else None),
        'warm-up':
        warm,
        'cosine':
        cos,
        'AMP': ('GPU' if cfg.optim_wrapper.get('type')
                == 'AmpOnGPUOptimWrapper' else '-'),
        'RandAugment':
        fmt_randaugment(train),
        'erasing':
        fmt_erasing(train),
        'label smooth':
        fmt(head.get('label_smooth_eps') or None),
        'val resize':
        fmt_resize(val),
        'test views':
        fmt_test_views(test),
    }


def test_every_config_has_a_row_and_every_row_a_config():
    assert set(TABLE) == set(CONFIGS), (
        f'configs without a row: {sorted(set(CONFIGS) - set(TABLE))}; '
        f'rows without a config: {sorted(set(TABLE) - set(CONFIGS))}')


def test_sources_name_a_paper_table_or_a_released_file():
    for name, row in TABLE.items():
        source = row['source']
        files = re.findall(r'[\w.-]+\.py|clip_vit_\w+', source)
        released = [f for f in files if f in RELEASED]
        assert ('paper' in source or released or 'demo' in source
                or 'assumed' in source), f'{name}: source {source!r}'
        for f in files:
            assert f in RELEASED or glob.glob(
                osp.join(REPO, 'configs', '**', f), recursive=True), \
                f'{name}: source names unknown file {f}'


@pytest.mark.parametrize('path', CONFIGS)
def test_config_matches_its_documented_recipe(path):
    row = TABLE.get(path)
    assert row is not None, f'{path} has no row in {DOC}'
    got = recipe(path)
    wrong = {
        column: (row[column], value)
        for column, value in got.items() if row[column] != value
    }
    assert not wrong, (f'{path} differs from {DOC} '
                       '(column: (documented, config)): ' + str(wrong))


def test_released_stdha_settings_as_documented():
    """The released head schedules (docs/en/advanced_guides/stdha.md)
    appear verbatim, in order, where the released files are the source."""
    released = {
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py':
        '{-1: 1, 1: 1}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_8x16x1-40e_kinetics400-rgb.py':
        '{-1: 2, 1: 2}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u16-50e_sthv2-rgb.py':
        '{-1: 1, 1: 1, -2: 1, 2: 1}',
        'configs/recognition/zeroi2v/'
        'zeroi2v-released_clip-vit-large-p14_32x4x1-40e_kinetics400-rgb.py':
        '{-1: 2, 1: 2, -2: 2}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-large-p14_u32-50e_sthv2-rgb.py':
        '{-1: 2, 1: 2, -2: 1, 2: 1, -3: 1}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u8-40e_ucf101-split1-rgb.py':
        '{-1: 1, 1: 1}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u32-40e_ucf101-split1-rgb.py':
        '{-1: 1, 1: 1, -2: 1, 2: 1}',
        'configs/recognition/zeroi2v/'
        'zeroi2v_clip-vit-base-p16_u32-40e_hmdb51-split1-rgb.py':
        '{-1: 1, 1: 1, -2: 1, 2: 1}',
    }
    for path, offsets in released.items():
        assert TABLE[path]['STDHA'] == offsets, path
        cfg = Config.fromfile(osp.join(REPO, path))
        assert fmt_offsets(cfg.model.backbone.stdha) == offsets, path


def test_amp_on_gpu_optim_wrapper_plain_on_cpu_amp_on_gpu(monkeypatch):
    """Every ZeroI2V recipe asks for AmpOnGPUOptimWrapper: a CPU build gets
    MMEngine's plain OptimWrapper (fp32, trains), a GPU build its
    AmpOptimWrapper with the same optimizer settings."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    import zeroi2v_mm.engine.optimizers.amp_on_gpu as amp_on_gpu

    cfg = dict(
        type='AmpOnGPUOptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        accumulative_counts=2)
    model = torch.nn.Linear(4, 2)
    with DefaultScope.overwrite_default_scope('mmaction'):
        if not torch.cuda.is_available():
            cpu = build_optim_wrapper(model, cfg)
            assert type(cpu) is OptimWrapper
            assert cpu._accumulative_counts == 2
            loss = model(torch.randn(3, 4)).sum()
            before = model.weight.detach().clone()
            cpu.update_params(loss)
            cpu.update_params(model(torch.randn(3, 4)).sum())
            assert not torch.equal(before, model.weight)  # it trains
        # as on a GPU machine (AmpOptimWrapper checks for CUDA itself)
        monkeypatch.setattr(amp_on_gpu, 'gpu_available', lambda: True)
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)
        gpu = build_optim_wrapper(model, cfg)
    assert isinstance(gpu, AmpOptimWrapper)
    assert gpu._accumulative_counts == 2
    assert gpu.optimizer.param_groups[0]['lr'] == 1e-3
