"""docs/en/user_guides/train_own_data.md, step by step: a user's folder of
videos and annotation lists, configs/zeroi2v_own_videos.py copied with its
five settings changed (and nothing else), `mim train mmaction`, then
inference on one video with MMAction2's API on what the run wrote.

Only the model is shrunk (--cfg-options of the ViT's size): the data,
pipelines, workers, schedule hooks and merge are the template's own.
"""
import os
import os.path as osp
import re
import shutil
import subprocess

import pytest
import torch

from helpers import REPO, VENV_BIN, first_video, make_tiny_videos, run_cli

TEMPLATE = osp.join(REPO, 'configs', 'zeroi2v_own_videos.py')
SETTINGS = ('data_root', 'ann_file_train', 'ann_file_val', 'num_classes',
            'image_weights', 'work_dir')
# the tiny ViT the test's image weights are made for: 32-px patches keep the
# template's 224-px crops at 7 x 7 tokens
TINY_VIT = dict(width=64, layers=2, heads=4, patch_size=32, image_size=224)


def tiny_model_options():
    options = ['model.backbone.arch._delete_=True']
    options += [f'model.backbone.arch.{k}={v}' for k, v in TINY_VIT.items()]
    return options + [
        'model.cls_head.in_channels=64', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1'
    ]


def set_settings(text: str, values: dict) -> str:
    """The template with each `name = value  # comment` line of the five
    settings given a new value (the comment kept)."""
    for name, value in values.items():
        text, count = re.subn(
            rf'^{name} = [^#\n]*', f'{name} = {value!r}  ', text, flags=re.M)
        assert count == 1, f'{name} is not one line of {TEMPLATE}'
    return text


def user_folder(root) -> str:
    """Synthetic videos laid out as someone's own data: my_videos/clips/*.mp4
    and my_videos/{train,val}.txt with paths relative to my_videos/."""
    generated = make_tiny_videos(root / 'generated')
    folder = root / 'my_videos'
    shutil.copytree(osp.join(generated, 'videos'), folder / 'clips')
    for split, name in (('train', 'train.txt'), ('val', 'val.txt')):
        lines = open(osp.join(generated, f'{split}_list.txt')).read().split()
        pairs = zip(lines[::2], lines[1::2])
        (folder / name).write_text(''.join(f'clips/{path} {label}\n'
                                           for path, label in pairs))
    return str(folder)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The walkthrough up to training: (work_dir, config path, folder)."""
    from zeroi2v_mm.models import ZeroI2VViT
    root = tmp_path_factory.mktemp('user')
    folder = user_folder(root)
    weights = str(root / 'image_vit.pth')
    torch.save(ZeroI2VViT(arch=TINY_VIT, num_frames=8).state_dict(), weights)
    work_dir = str(root / 'work_dirs' / 'my_videos')
    # the guide: cp configs/zeroi2v_own_videos.py configs/my_config.py
    (root / 'configs').mkdir()
    os.symlink(
        osp.join(REPO, 'configs', '_base_'), root / 'configs' / '_base_')
    config = root / 'configs' / 'my_config.py'
    template = open(TEMPLATE).read()
    text = set_settings(
        template,
        dict(
            data_root=folder,
            ann_file_train=osp.join(folder, 'train.txt'),
            ann_file_val=osp.join(folder, 'val.txt'),
            num_classes=10,
            image_weights=weights,
            work_dir=work_dir))
    config.write_text(text)
    log = run_cli([
        'mim', 'train', 'mmaction',
        str(config), '--cfg-options', *tiny_model_options()
    ],
                  cwd=root)
    return work_dir, str(config), folder, log


def test_template_has_the_five_settings_and_builds():
    from mmengine.config import Config
    text = open(TEMPLATE).read()
    for name in SETTINGS:
        assert re.search(rf'^{name} = ', text, flags=re.M), name
    cfg = Config.fromfile(TEMPLATE)
    # the settings reach the places that use them
    assert cfg.model.cls_head.num_classes == cfg.num_classes
    assert cfg.model.backbone.pretrained == cfg.image_weights
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.data_prefix.video == cfg.data_root
        assert dataset.num_classes == cfg.num_classes
        # workers that suit the machine; persistent only when there are any
        assert cfg[loader].num_workers == min(8, os.cpu_count() or 1)
        assert cfg[loader].persistent_workers == (cfg[loader].num_workers > 0)
    assert cfg.train_dataloader.dataset.ann_file == cfg.ann_file_train
    assert cfg.val_dataloader.dataset.ann_file == cfg.ann_file_val


@pytest.mark.slow
def test_walkthrough_trains_merges_and_infers(trained):
    work_dir, config, folder, log = trained
    # the image weights of setting 4 were read
    assert 'image_vit.pth' in log
    best = [f for f in os.listdir(work_dir) if f.startswith('best_')]
    assert best, os.listdir(work_dir)
    merged = osp.join(work_dir, 'my_config_merged.pth')
    assert osp.isfile(merged)

    # Inference on one video with MMAction2's own API, on the config the run
    # dumped into its work dir and its best (small) training checkpoint:
    # MMAction2 clears the config's pretrained, the backbone restores the
    # frozen weights from the image model the checkpoint records.
    from mmaction.apis import inference_recognizer, init_recognizer
    model = init_recognizer(
        osp.join(work_dir, 'my_config.py'),
        osp.join(work_dir, best[0]),
        device='cpu')
    video = first_video(osp.join(folder, 'val.txt'), folder)
    result = inference_recognizer(model, video)
    scores = result.pred_score
    assert scores.shape == (10, )
    assert torch.isclose(scores.sum(), torch.tensor(1.0), atol=1e-4)


# ------------------------------------------------- the documented snippets
# The blocks of README.md and docs/en/ whose marker names one of the tests
# below (tests/helpers/doc_snippets.py), run on the walkthrough's tiny run
# with the documented paths replaced by the run's.
THIS = 'tests/e2e/test_own_data_walkthrough.py::'


def _substitute(code: str, values: dict) -> str:
    for name, value in values.items():
        code = re.sub(
            rf'^{name} = .*$', f'{name} = {value!r}', code, flags=re.M)
    return code


@pytest.mark.slow
def test_inference_snippets_run(trained, tmp_path, capsys):
    from helpers.doc_snippets import marked
    work_dir, _, folder, _ = trained
    blocks = marked(THIS + 'test_inference_snippets_run')
    assert len(blocks) >= 5, [b.where() for b in blocks]
    video = first_video(osp.join(folder, 'val.txt'), folder)
    merged = osp.join(work_dir, 'my_config_merged.pth')
    best = [f for f in os.listdir(work_dir) if f.startswith('best_')]
    config = osp.join(work_dir, 'my_config.py')
    for block in blocks:
        names = set(re.findall(r'^(\w+) = ', block.code, flags=re.M))
        if 'merged' in names:  # the block loads the merged file
            values = dict(config=config, merged=merged)
        else:  # the run's best (small) training checkpoint, as documented
            values = dict(
                config=config, checkpoint=osp.join(work_dir, best[0]))
        values['video'] = video
        assert set(values) <= names, (block.where(), names)
        code = _substitute(block.code, values)
        exec(compile(code, block.where(), 'exec'), {'__name__': 'snippet'})
        printed = capsys.readouterr().out
        assert re.search(r'\d', printed), (block.where(), printed)


@pytest.mark.slow
def test_merge_tool_snippet_runs(trained, tmp_path):
    from helpers.doc_snippets import marked, shell_commands
    work_dir, _, _, _ = trained
    blocks = marked(THIS + 'test_merge_tool_snippet_runs')
    assert blocks
    out = str(tmp_path / 'merged.pth')
    paths = {
        'work_dirs/my_videos/my_videos.py': osp.join(work_dir, 'my_config.py'),
        'work_dirs/my_videos/epoch_40.pth': osp.join(work_dir, 'epoch_1.pth'),
        'work_dirs/my_videos/merged.pth': out,
    }
    for block in blocks:
        for command in shell_commands(block.code):
            for documented, real in paths.items():
                assert documented in command, (block.where(), documented)
                command = command.replace(documented, real)
            run_cli(['bash', '-c', command], what=block.where())
    assert osp.isfile(out) and osp.isfile(out[:-4] + '.json')


@pytest.mark.slow
def test_onnx_inference_snippet_runs(trained, tmp_path):
    """The guide's onnxruntime block: export the run's best (small)
    checkpoint with --verify, then infer_onnx.py on one video; its top-1 is
    MMAction2's inference_recognizer's, its score the same within 1e-4."""
    from mmaction.apis import inference_recognizer, init_recognizer

    from helpers.doc_snippets import marked, shell_commands
    work_dir, _, folder, _ = trained
    blocks = marked(THIS + 'test_onnx_inference_snippet_runs')
    assert len(blocks) == 1
    best = [f for f in os.listdir(work_dir) if f.startswith('best_')][0]
    video = first_video(osp.join(folder, 'val.txt'), folder)
    paths = {
        'work_dirs/my_videos/my_videos.py': osp.join(work_dir, 'my_config.py'),
        'work_dirs/my_videos/best_acc_top1_epoch_40.pth':
        osp.join(work_dir, best),
        'my_videos.onnx': str(tmp_path / 'my_videos.onnx'),
        'data/my_videos/clips/wave_001.mp4': video,
    }
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ['PATH'])
    used, output = set(), ''
    for command in shell_commands(blocks[0].code):
        for documented, real in paths.items():
            if documented in command:
                used.add(documented)
                command = command.replace(documented, real)
        result = subprocess.run(['bash', '-c', command],
                                cwd=REPO,
                                env=env,
                                capture_output=True,
                                text=True,
                                timeout=300)
        assert result.returncode == 0, (blocks[0].where(),
                                        result.stderr[-3000:])
        output = result.stdout
    assert used == set(paths)
    rank, class_id, score = output.strip().splitlines()[-5].split()[:3]
    model = init_recognizer(
        paths['work_dirs/my_videos/my_videos.py'],
        paths['work_dirs/my_videos/best_acc_top1_epoch_40.pth'],
        device='cpu')
    scores = inference_recognizer(model, video).pred_score
    assert rank == '1' and int(class_id) == int(scores.argmax())
    assert abs(float(score) - float(scores.max())) <= 1e-4


def test_tensorboard_config_block_builds_both_backends(tmp_path):
    import glob

    from mmaction.registry import VISUALIZERS

    from helpers.doc_snippets import marked
    blocks = marked(THIS +
                    'test_tensorboard_config_block_builds_both_backends')
    assert len(blocks) == 1
    namespace = {}
    exec(blocks[0].code, namespace)
    cfg = dict(
        namespace['visualizer'],
        type='ActionVisualizer',
        name='docs_tensorboard',
        save_dir=str(tmp_path))
    visualizer = VISUALIZERS.build(cfg)
    visualizer.add_scalars({'loss': 1.0}, step=1)
    visualizer.close()
    assert glob.glob(str(tmp_path / '**' / 'scalars.json'), recursive=True)
    assert glob.glob(
        str(tmp_path / '**' / 'events.out.tfevents.*'), recursive=True)


def test_guide_settings_are_the_template_settings():
    """The guide's block of five settings names the template's settings, in
    its order, with its comments."""
    from helpers.doc_snippets import marked
    blocks = marked(THIS + 'test_guide_settings_are_the_template_settings')
    assert len(blocks) == 1

    def settings(text):
        return re.findall(r'^(\w+) = [^#\n]*(#.*)?$', text, flags=re.M)

    template = open(TEMPLATE).read()
    section = template.split('# ---- the five settings',
                             1)[1].split('\n# ----', 1)[0]
    assert settings(blocks[0].code) == settings(section)
    assert [name for name, _ in settings(section)] == list(SETTINGS)
