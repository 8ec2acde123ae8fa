"""Helpers shared by the tests (imported as ``helpers``: pytest.ini puts
tests/ on ``sys.path``): the repository root, the tiny model settings, tiny
data, config options and CLI runs. Helpers of one subject live in the
modules next to this one (``helpers.swin``, ``helpers.inti``, ...); fixtures
are in the conftest.py files."""
import hashlib
import importlib.util
import os
import os.path as osp
import subprocess
import sys

# tests/helpers/__init__.py -> the repository root
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VENV_BIN = osp.dirname(sys.executable)

# The tiny ViT of most model tests (the ``tiny_arch`` fixture is a copy).
TINY_ARCH = dict(width=64, layers=3, heads=4, patch_size=8, image_size=32)


def tiny_uniformerv2(width=64,
                     layers=2,
                     heads=4,
                     t_size=8,
                     return_list=(1, ),
                     **settings) -> dict:
    """A tiny ``UniFormerV2InTI`` config (32 px, 8 px patches): the global
    UniBlocks take the blocks' width and heads, one per returned block."""
    return dict(
        type='UniFormerV2InTI',
        input_resolution=32,
        patch_size=8,
        width=width,
        layers=layers,
        heads=heads,
        t_size=t_size,
        return_list=list(return_list),
        n_layers=len(return_list),
        n_dim=width,
        n_head=heads,
        mlp_dropout=[0.0] * len(return_list),
        **settings)


def load_tool(relative_path: str):
    """Import a script under tools/ (not a package) as a module."""
    path = osp.join(REPO, relative_path)
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --cfg-options shrinking the demo's ViT (configs/demo/*) to the tiny test
# model: 4 x 4 patches of 32-px frames, as the demo's 64-px ones have.
TINY_DEMO_ARCH = [
    'model.backbone.arch.width=64',
    'model.backbone.arch.layers=2',
    'model.backbone.arch.heads=4',
    'model.backbone.arch.image_size=32',
    'model.backbone.arch.patch_size=8',
]


def randomize_adapters(model, std: float = 0.05) -> None:
    """Give every adapter non-zero weights so that merging has work to do."""
    import torch

    from zeroi2v_mm.models.layers import LinearAdapter
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LinearAdapter):
                for param in module.parameters():
                    param.copy_(
                        torch.randn(param.shape, generator=generator) * std)


def parse_cfg_options(options) -> dict:
    """``--cfg-options`` strings (``key=value``) parsed as MMEngine's
    command line parses them (``DictAction``), for ``Config.merge_from_dict``.
    """
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction)
    return parser.parse_args(['--options', *options]).options


def make_tiny_videos(out_dir, videos_per_class=2, val_per_class=1):
    """A few 32 px, 8-frame synthetic videos per class."""
    from zeroi2v_mm.testing.synthetic_videos import make_dataset
    make_dataset(
        out_dir,
        videos_per_class=videos_per_class,
        val_per_class=val_per_class,
        frames=8,
        size=32,
        progress=False)
    return str(out_dir)


def first_video(list_file: str, videos_dir: str) -> str:
    """The path of the first video an MMAction2 list file names."""
    with open(list_file) as file:
        return osp.join(videos_dir, file.readline().split()[0])


def tiny_demo_overrides(data_dir: str, work_dir: str, epochs: int = 1):
    """--cfg-options turning configs/demo/* into a seconds-long CPU run."""
    videos = osp.join(data_dir, 'videos')
    options = TINY_DEMO_ARCH + [
        'model.cls_head.in_channels=64',
        # random init: the demo's pre-trained image model is not built here
        'model.backbone.pretrained=None',
        f'train_cfg.max_epochs={epochs}',
        'train_cfg.val_interval=1',
        'train_dataloader.batch_size=4',
        'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4',
    ]
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'), ('test_dataloader',
                                                      'val')):
        options += [
            f'{loader}.dataset.ann_file={data_dir}/{split}_list.txt',
            f'{loader}.dataset.data_prefix.video={videos}',
        ]
        # 32 px videos: resize the pipelines' 64 px step down to 32.
        options.append(f'{loader}.dataset.pipeline.3.scale=(32,32)')
    return options


def _run(args, timeout, cwd, env) -> subprocess.CompletedProcess:
    """``args`` with the venv's bin first on PATH; ``env`` adds variables
    to this process's (a None value removes one)."""
    full_env = dict(
        os.environ,
        PATH=VENV_BIN + os.pathsep + os.environ['PATH'],
        PYTHONUNBUFFERED='1')
    for key, value in env.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = str(value)
    return subprocess.run([*map(str, args)],
                          cwd=cwd,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def run_cli(args, timeout=300, cwd=REPO, what=None, **env):
    """Run a command (from the repo root unless ``cwd``; ``env`` as
    :func:`_run`) that must succeed and return its output; a failure is an
    AssertionError naming ``what`` (default: the command)."""
    result = _run(args, timeout, cwd, env)
    if result.returncode != 0:
        raise AssertionError(
            f'{what or args} failed ({result.returncode}):\n'
            f'{result.stdout[-3000:]}\n{result.stderr[-5000:]}')
    return result.stdout + result.stderr


def sha256_of(path) -> str:
    """sha256 of a file's bytes (to show a tool left its inputs alone)."""
    with open(path, 'rb') as file:
        return hashlib.sha256(file.read()).hexdigest()


def run_status(*args, timeout=300, cwd=REPO, **env):
    """``(exit status, stdout + stderr)`` of a command that may fail (from
    the repo root unless ``cwd``; ``env`` as :func:`_run`);
    ``ZEROI2V_DEBUG`` is unset unless given (tracebacks of known errors stay
    off)."""
    env.setdefault('ZEROI2V_DEBUG', None)
    result = _run(args, timeout, cwd, env)
    return result.returncode, result.stdout + result.stderr
