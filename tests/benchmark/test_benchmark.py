"""tools/benchmark.py (a command line over zeroi2v_mm.benchmark) on tiny
configs with --quick: the JSON and Markdown have
the promised structure, and the identities that must hold exactly do (the
merged ZeroI2V model has the parameters and FLOPs of the plain model, which
is the image ViT plus a T x D temporal embedding; the linear probe is the
plain network; frozen-backbone training needs less memory than full
fine-tuning), also with --compile, without matplotlib, for an InTI config
and for the configs of tools/benchmark_gpu.sh. No timing is asserted:
timings on a shared CI machine are noise. The package's parts (timing,
settings, memory measure): test_benchmark_parts.py."""
import json
import os
import os.path as osp
import sys

import pytest
import torch

from zeroi2v_mm.benchmark import BenchmarkSettings
from zeroi2v_mm.benchmark import report as report_module

from helpers import REPO, TINY_ARCH, load_tool

TINY = [
    f"model.backbone.arch.width={TINY_ARCH['width']}",
    'model.backbone.arch.layers=2',
    f"model.backbone.arch.heads={TINY_ARCH['heads']}",
    f"model.backbone.arch.patch_size={TINY_ARCH['patch_size']}",
    f"model.backbone.arch.image_size={TINY_ARCH['image_size']}",
    'model.backbone.num_frames=4',
    f"model.cls_head.in_channels={TINY_ARCH['width']}",
]
CONFIGS = [
    'configs/demo/zeroi2v_synthetic.py', 'configs/recognition/aim/'
    'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
    'configs/recognition/linear_probe/'
    'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py',
    'configs/recognition/full_finetune/'
    'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py'
]
NAMES = [
    'zeroi2v_synthetic', 'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb',
    'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb',
    'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'
]

# Tiny models: one thread (tests/conftest.py).
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/benchmark.py')


@pytest.fixture(scope='module')
def report(tool, tmp_path_factory):
    out = tmp_path_factory.mktemp('benchmark')
    args = [osp.join(REPO, c) for c in CONFIGS] + [
        '--quick', '--device', 'cpu', '--json',
        str(out / 'bench.json'), '--md',
        str(out / 'bench.md'), '--accuracy', 'zeroi2v_synthetic=91.5',
        'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb=88.0',
        '--cfg-options'
    ] + TINY
    tool.main(args)
    return dict(
        json=json.load(open(out / 'bench.json')),
        md=open(out / 'bench.md').read(),
        dir=out)


def rows(report):
    return {row['name']: row for row in report['json']['results']}


def test_json_structure(report):
    data = report['json']
    assert {
        'machine', 'settings', 'plain', 'results', 'attention', 'accuracy',
        'plot'
    } <= set(data)
    assert data['machine']['device'] == 'cpu' and data['machine']['cpu']
    assert data['settings']['quick'] is True
    assert [row['name'] for row in data['results']] == NAMES
    [plain] = data['plain']  # one size: one plain model
    assert plain['latency']['ms']['median'] > 0
    assert plain['train_memory']['peak_mib'] > 0
    for row in data['results']:
        assert row['plain'] == plain['key']
        assert set(row['params']) >= {
            'total', 'trainable', 'deployed', 'new_after_merge', 'plain',
            'image_vit', 'temporal_embedding'
        }
        assert set(row['gflops']) >= {
            'per_view', 'per_clip', 'plain_per_view', 'per_view_unmerged'
        }
        for key in ('latency', 'train_step'):
            timing = row[key]
            assert {'ms', 'plain_ms', 'ratio', 'paired_ratio'} <= set(timing)
            assert {'median', 'q1', 'q3', 'iqr', 'n'} <= set(timing['ms'])
            assert timing['ms']['n'] >= 1 and timing['ms']['median'] > 0
        assert row['throughput']['batch_views'] == 2
        assert row['train_memory']['peak_mib'] > 0
        assert 'torch.profiler' in row['train_memory']['measure']
        expected = {
            'params', 'params_deployed', 'gflops', 'gflops_unmerged',
            'latency', 'throughput', 'train_step', 'train_memory'
        }
        if row['merged']:
            expected.add('latency_unmerged')
        assert set(row['ratios']) == expected
        assert row['test_views'] == 1
    attention = data['attention']
    for part in ('layer', 'core'):
        assert attention[part]['paired_ratio'] > 0
    assert attention['offsets'] == {'1': 2, '-1': 2}
    assert attention['config'] == 'zeroi2v_synthetic'
    # STDHA stays on the same scaled dot-product attention kernel as plain
    # attention (on CPU the ATen op is what the profiler names)
    kernels = attention['sdpa_kernels']
    assert kernels['stdha'] and kernels['stdha'] == kernels['plain']
    assert any('scaled_dot_product' in name for name in kernels['stdha'])
    assert 'Attention kernels that ran' in report['md']


def test_merged_zeroi2v_is_the_plain_model_exactly(report):
    zeroi2v = rows(report)['zeroi2v_synthetic']
    params, gflops = zeroi2v['params'], zeroi2v['gflops']
    assert zeroi2v['merged'] is True
    temporal = 4 * TINY_ARCH['width']  # T x D
    assert params['temporal_embedding'] == temporal
    assert params['deployed'] == params['plain'] == \
        params['image_vit'] + temporal
    assert params['new_after_merge'] == 0
    assert params['total'] > params['plain']  # adapters before merging
    assert gflops['flops'] == gflops['plain_flops']
    assert gflops['per_view_unmerged'] > gflops['per_view']
    assert zeroi2v['ratios']['gflops'] == 1.0
    assert zeroi2v['ratios']['params_deployed'] == 1.0
    # the unmerged model was timed on its own
    assert zeroi2v['latency_unmerged']['unit'] == 'zeroi2v_synthetic:unmerged'


def test_aim_costs_extra_at_inference(report):
    aim = rows(report)['aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    assert aim['merged'] is False and 'latency_unmerged' not in aim
    assert aim['params']['new_after_merge'] == (aim['params']['total'] -
                                                aim['params']['plain']) > 0
    assert aim['gflops']['flops'] > aim['gflops']['plain_flops']
    assert aim['ratios']['gflops'] > 1.2


def test_identical_networks_are_timed_once(report):
    """The linear probe deploys the plain ViT, full fine-tuning the plain
    ViT + STDHA: the merged ZeroI2V network."""
    found = rows(report)
    plain = report['json']['plain'][0]
    probe = found[
        'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    assert probe['latency']['unit'] == plain['key']
    assert probe['latency']['ms'] == plain['latency']['ms']
    assert probe['ratios']['latency'] == 1.0
    full = found[
        'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    assert full['latency']['unit'] == 'zeroi2v_synthetic'
    assert found['aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'][
        'latency'][
            'unit'] == 'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'


def test_trainable_counts_and_training_memory(report):
    found = rows(report)
    width, classes = TINY_ARCH['width'], 10
    probe = found[
        'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    # lr_mult=0 on the temporal embedding and ln_post: only the head trains
    assert probe['params']['trainable'] == width * classes + classes
    assert sorted(probe['params']['frozen_by_lr_mult']) == [
        'backbone.ln_post.bias', 'backbone.ln_post.weight',
        'backbone.temporal_embedding'
    ]
    full = found[
        'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    assert full['params']['trainable'] == full['params']['total']
    # memory is counted from allocations, not timed: exact relations hold
    memory = {
        name: row['train_memory']['peak_mib']
        for name, row in found.items()
    }
    assert memory['zeroi2v_synthetic'] < memory[
        'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb']
    probe_name = 'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'
    assert memory[probe_name] < memory['zeroi2v_synthetic']
    # full fine-tuning with STDHA holds what the plain model's training does
    assert full['ratios']['train_memory'] == pytest.approx(1.0, rel=0.02)


def test_markdown_table_and_plot(report):
    text = report['md']
    assert text.startswith('Machine: ')
    assert 'Training peak memory: parameters + buffers + AdamW state' in text
    table = [line for line in text.splitlines() if line.startswith('| ')]
    header = table[0]
    assert header.startswith('| config | method | params (M)')
    assert 'top-1' in header
    body = table[2:]
    assert body[0].startswith('| plain (plain0) |')
    names = [line.split(' | ')[0][2:] for line in body[1:]]
    assert names == [
        'zeroi2v_synthetic', 'zeroi2v_synthetic unmerged',
        'aim_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb',
        'linear-probe_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb',
        'full-finetune_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb'
    ]
    assert body[1].startswith('| zeroi2v_synthetic | 4 linear adapters + '
                              'STDHA |')
    assert all(line.count('|') == header.count('|') for line in body)
    assert '91.50' in body[1] and '88.00' in body[3]
    assert '¹ the same network as another row' in text
    assert 'STDHA attention vs plain attention' in text
    assert osp.getsize(report['dir'] / 'bench_accuracy.png') > 0


def test_no_matplotlib_gives_a_message_not_a_crash(tool, tmp_path,
                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    report = tool.main([
        osp.join(
            REPO, 'configs/recognition/st_adapter/'
            'st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb.py'),
        '--quick', '--device', 'cpu', '--no-train', '--no-throughput',
        '--no-attention', '--md',
        str(tmp_path / 'b.md'), '--accuracy',
        'st-adapter_synthetic-vit-tiny-p16_8x2x1-20e_synthetic-rgb=50',
        '--cfg-options'
    ] + TINY)
    assert 'matplotlib is not installed' in report['plot_error']
    assert 'No plot: matplotlib is not installed' in open(tmp_path /
                                                          'b.md').read()
    assert not osp.exists(tmp_path / 'b_accuracy.png')
    row = report['results'][0]
    assert row['ratios']['gflops'] > 1.0 and 'train_step' not in row


def test_compile_times_compiled_next_to_eager(tool, tmp_path, monkeypatch):
    """--compile adds a compiled twin of each deployed network to the same
    timing rounds. Inductor's code generation takes minutes on 2 cores, so
    the plumbing is tested with the 'eager' dynamo backend."""
    compiled_models = []
    real_compile = torch.compile

    def compile_eager(model, **kwargs):
        compiled_models.append(model)
        return real_compile(model, backend='eager', **kwargs)

    monkeypatch.setattr(torch, 'compile', compile_eager)
    report = tool.main([
        osp.join(REPO, CONFIGS[0]), '--quick', '--device', 'cpu', '--no-train',
        '--no-throughput', '--no-attention', '--compile', '--md',
        str(tmp_path / 'c.md'), '--cfg-options'
    ] + TINY)
    assert len(compiled_models) == 2  # plain model + merged ZeroI2V
    [row] = report['results']
    compiled = row['latency_compiled']
    assert compiled['ms']['n'] == 2 and compiled['plain_ms']['n'] == 2
    assert row['ratios']['compiled_vs_eager'] == compiled['paired_ratio']
    assert 'latency_compiled' in report['plain'][0]
    assert 'torch.compile (Inductor) vs eager' in open(tmp_path /
                                                       'c.md').read()


def test_bad_arguments_are_refused(tool):
    with pytest.raises(SystemExit):
        tool.parse_args(['no/such/config.py', '--device', 'cpu'])
    with pytest.raises(SystemExit):
        tool.parse_args([osp.join(REPO, CONFIGS[0]), '--repeats', '0'])
    with pytest.raises(SystemExit):
        tool.parse_args([osp.join(REPO, CONFIGS[0]), '--warmup', '-1'])
    with pytest.raises(ValueError, match='TOP1 must be a number'):
        report_module.parse_accuracy(['zeroi2v_synthetic=high'])


def test_frame_compression_is_compared_with_the_naive_model(tool, tmp_path):
    """An InTI config's plain model is the naive model of the same frame
    count (here without input temporal embedding, as the paper's naive and
    InTI models): the report gives InTI's latency and GFLOPs ratios to it."""
    report = tool.main([
        osp.join(REPO,
                 'configs/demo/inti_synthetic.py'), '--quick', '--device',
        'cpu', '--no-train', '--no-throughput', '--no-attention', '--md',
        str(tmp_path / 'i.md'), '--json',
        str(tmp_path / 'i.json'), '--cfg-options'
    ] + TINY + [
        'model.backbone.temporal_embedding=False',
        'model.backbone.compress.after_blocks=(1,)'
    ])
    [plain], [row] = report['plain'], report['results']
    assert plain['params']['temporal_embedding'] == 0
    assert row['compress'] == dict(
        type='InTI', after_blocks=[1], frames_per_block=[4, 2])
    assert row['gflops']['flops'] < row['gflops']['plain_flops']
    assert row['latency']['unit'] == 'inti_synthetic'
    text = open(tmp_path / 'i.md').read()
    assert 'Frame compression vs the naive model' in text
    line = next(line for line in text.splitlines()
                if line.startswith('* inti_synthetic: InTI_{1}'))
    assert f"x{row['ratios']['gflops']:.3f}" in line
    assert f"x{row['latency']['paired_ratio']:.3f}" in line
    assert json.load(open(tmp_path / 'i.json'))['results'][0]['compress']


@pytest.mark.slow
def test_gpu_script_refuses_without_a_gpu(tmp_path):
    """tools/benchmark_gpu.sh stops at once, saying why, where no CUDA
    device is visible (this machine), and writes nothing."""
    import subprocess
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is visible')
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools/benchmark_gpu.sh')],
        env=dict(os.environ, PYTHON=sys.executable, OUT_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120)
    assert result.returncode == 1
    assert 'no CUDA device visible' in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_gpu_script_configs_go_through_the_benchmark():
    """Every config tools/benchmark_gpu.sh measures builds, merges and is
    counted by the benchmark (at a tiny size, parameters and FLOPs only), so
    the one GPU run a session gets does not stop at a config
    (configs/recognition/inti/inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py,
    without input temporal embedding, once did)."""
    import re

    from zeroi2v_mm.benchmark import benchmark
    script = open(osp.join(REPO, 'tools/benchmark_gpu.sh')).read()
    # the configs of the tools/benchmark.py command (up to its last line)
    command = script[script.index('tools/benchmark.py \\'):]
    command = command[:command.index('--json')]
    configs = re.findall(r'^\s+(configs/\S+\.py)', command, flags=re.M)
    assert ('configs/recognition/zeroi2v/'
            'zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb.py'
            in configs and 'configs/recognition/inti/'
            'inti_clip-vit-base-p16_u16-30e_kinetics400-rgb.py' in configs
            and len(configs) == 7)
    width = TINY_ARCH['width']
    settings = BenchmarkSettings.for_device(
        [osp.join(REPO, c) for c in configs],
        'cpu',
        counts_only=True,
        cfg_options={
            # the K400 configs name their size ('ViT-B/16'): replace it
            'model.backbone.arch':
            dict(
                _delete_=True,
                width=width,
                layers=8,
                heads=TINY_ARCH['heads'],
                patch_size=TINY_ARCH['patch_size'],
                image_size=TINY_ARCH['image_size']),
            'model.backbone.num_frames':
            16,  # InTI's: 16 -> 8 -> 4
            'model.cls_head.in_channels':
            width
        })
    report = benchmark(settings)
    rows = {row['name']: row for row in report['results']}
    assert sorted(rows) == sorted(
        osp.splitext(osp.basename(c))[0] for c in configs)
    assert rows['zeroi2v_clip-vit-base-p16_8x16x1-40e_kinetics400-rgb'][
        'ratios']['gflops'] == 1.0
    assert rows['inti_clip-vit-base-p16_u16-30e_kinetics400-rgb']['compress'][
        'after_blocks'] == [5, 7]
    assert rows['inti_clip-vit-base-p16_u16-30e_kinetics400-rgb']['ratios'][
        'gflops'] < 1.0
