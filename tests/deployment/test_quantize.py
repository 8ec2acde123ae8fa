"""int8 / fp16 export (tools/deployment/export_onnx.py --quantize): made by
onnxruntime's quantization, calibrated on clips read by the config's test
pipeline, verified against PyTorch, never written when verification fails."""
import json
import os
import os.path as osp

import numpy as np
import onnx
import pytest
import torch

from helpers import load_tool, parse_cfg_options
from helpers.deployment import CONFIG, LAYERS, overrides, reference_scores


def quantize(tool, trained, out, *extra):
    return tool.main([
        CONFIG, trained['checkpoint'], '--out',
        str(out), '--quantize', *extra, '--cfg-options',
        *overrides(trained['data'])
    ])


def listing(folder):
    return sorted(os.listdir(folder))


def op_types(path):
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_iter_clips_reads_the_test_pipeline(trained):
    """Clips of the test set and of one video come out as the test
    pipeline packs them, with the annotated labels, spread over the set."""
    from mmengine.config import Config

    from zeroi2v_mm.deployment import decode_video
    from zeroi2v_mm.deployment.clips import iter_clips, spread_indices
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_cfg_options(overrides(trained['data'])))
    lines = open(osp.join(trained['data'], 'val_list.txt')).read().split('\n')
    lines = [line.split() for line in lines if line.strip()]
    clips = list(iter_clips(cfg, max_clips=3))
    picked = spread_indices(len(lines), 3)
    assert len(lines) == 10 and picked == [0, 4, 9]
    assert [c.label for c in clips] == [int(lines[i][1]) for i in picked]
    assert [c.source for c in clips] == [
        osp.join(trained['data'], 'videos', lines[i][0]) for i in picked
    ]
    for clip in clips:
        assert clip.inputs.shape == (1, 3, 8, 32, 32)
        assert torch.equal(clip.inputs, decode_video(cfg, clip.source))
    (one, ) = iter_clips(cfg, video=trained['video'])
    assert one.label == -1
    assert torch.equal(one.inputs, decode_video(cfg, trained['video']))
    assert spread_indices(5, None) == [0, 1, 2, 3, 4]
    assert spread_indices(5, 9) == [0, 1, 2, 3, 4]


def test_int8_static_export_is_verified_and_reported(tool, trained, capsys):
    from zeroi2v_mm.deployment import run_exported
    out = trained['root'] / 'int8.onnx'
    assert quantize(tool, trained, out, 'int8', '--verify', '--calib-clips',
                    '6', '--min-agreement', '0.8') == 0
    printed = capsys.readouterr().out
    assert 'int8 (static, 6 calibration clips' in printed
    report = json.load(open(str(out) + '.report.json'))
    assert report['quantization']['mode'] == 'static'
    assert report['quantization']['per_channel'] is True
    assert report['fp32_verification']['max_abs_diff'] < 1e-4
    verification = report['verification']
    assert verification['clips'] == 10  # the whole (tiny) test set
    # onnxruntime QDQ: weights stored as int8 with per-channel scales
    model = onnx.load(str(out))
    int8_weights = [
        init for init in model.graph.initializer
        if init.data_type == onnx.TensorProto.INT8 and len(init.dims) >= 2
    ]
    assert len(int8_weights) >= 2 * 4  # 4 weight matrices per block
    assert {'QuantizeLinear', 'DequantizeLinear'} <= op_types(out)
    # The kept-float groups: layer norms, softmax and head not quantized.
    graph = model.graph
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type in ('LayerNormalization', 'Softmax', 'Gemm'):
            for name in node.input:
                producer = producers.get(name)
                assert producer is None or \
                    producer.op_type != 'DequantizeLinear', node.name
    # Our own check of the report: agreement and difference recomputed.
    from mmengine.config import Config

    from zeroi2v_mm.deployment.clips import iter_clips
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_cfg_options(overrides(trained['data'])))
    agree, diff = 0, 0.0
    for clip in iter_clips(cfg):
        got = run_exported(str(out), clip.inputs)
        want = reference_scores(trained, clip.inputs)
        agree += int(got.mean(0).argmax() == want.mean(0).argmax())
        diff = max(diff, float((got - want).abs().max()))
    assert verification['top1_agreement'] == pytest.approx(agree / 10)
    assert verification['max_abs_diff'] == pytest.approx(diff, rel=1e-5)
    assert 0 < diff < 0.5  # quantized: not exact, but close
    assert verification['top1_agreement'] >= 0.8


def test_dynamic_int8_without_calibration_data(tool, trained):
    out = trained['root'] / 'int8_dynamic.onnx'
    assert quantize(tool, trained, out, 'int8', '--calib-clips', '0',
                    '--verify', '--min-agreement', '0.8') == 0
    report = json.load(open(str(out) + '.report.json'))
    assert report['quantization']['mode'] == 'dynamic'
    assert 'DynamicQuantizeLinear' in op_types(out)
    # --calib-random: static, calibrated on random-pixel clips (benchmarks)
    out = trained['root'] / 'int8_random.onnx'
    assert quantize(tool, trained, out, 'int8', '--calib-random', '2') == 0
    report = json.load(open(str(out) + '.report.json'))
    assert report['quantization']['mode'] == 'static'
    assert report['quantization']['calibration_clips'] == 2
    assert 'verification' not in report  # no --verify: written unchecked


def test_bad_calibration_is_refused_and_nothing_written(
        tool, trained, capsys, monkeypatch):
    """Calibrated on black clips, the activation ranges are useless: the
    file disagrees with PyTorch, --verify refuses it, and neither the file,
    its report nor a temporary folder is left; the same threshold passes
    with real calibration clips (the test above)."""
    black = [torch.zeros(1, 3, 8, 32, 32) for _ in range(4)]
    monkeypatch.setattr(tool, 'calibration_clips', lambda *a: black)
    folder = trained['root'] / 'refused'
    folder.mkdir()
    before = listing(folder)
    out = folder / 'int8.onnx'
    assert quantize(tool, trained, out, 'int8', '--verify', '--min-agreement',
                    '0.8') == 1
    err = capsys.readouterr().err
    assert 'VERIFICATION FAILED' in err and 'below the threshold 80 %' in err
    assert 'not written' in err
    assert listing(folder) == before
    # An existing file is never replaced by a refused one.
    out.write_bytes(b'an earlier good export')
    assert quantize(tool, trained, out, 'int8', '--verify', '--force',
                    '--min-agreement', '0.8') == 1
    assert out.read_bytes() == b'an earlier good export'
    assert listing(folder) == ['int8.onnx']


def test_keep_float_groups(trained, tmp_path):
    """--keep-float chooses what stays float: with no group, onnxruntime
    quantizes layer norms and softmax too; with 'head' the classifier's
    Gemm reads float weights."""
    from zeroi2v_mm.deployment import (DeployedRecognizer, export_model,
                                       load_deployable_model)
    from zeroi2v_mm.deployment.quantize import (attention_matmuls, head_nodes,
                                                quantize_int8)
    model, _, _ = load_deployable_model(
        CONFIG, trained['checkpoint'],
        parse_cfg_options(overrides(trained['data'])))
    fp32 = str(tmp_path / 'fp32.onnx')
    export_model(
        DeployedRecognizer(model), fp32,
        torch.rand(2, 3, 8, 32, 32) * 255)
    assert head_nodes(onnx.load(fp32).graph) == ['/cls_head/fc_cls/Gemm']
    clips = [torch.rand(2, 3, 8, 32, 32) * 255 for _ in range(2)]

    counts = {}
    attention = set(attention_matmuls(onnx.load(fp32).graph))
    assert len(attention) == 2 * LAYERS  # q @ k^T and attn @ v per block

    def quantized_inputs(keep):
        """Op types (and attention MatMuls, by name) reading a quantized
        (DequantizeLinear) tensor."""
        path = str(tmp_path / f"q_{'_'.join(keep) or 'none'}.onnx")
        quantize_int8(fp32, path, clips, keep)
        graph = onnx.load(path).graph
        producers = {o: n.op_type for n in graph.node for o in n.output}
        read = [
            node for node in graph.node if any(
                producers.get(i) == 'DequantizeLinear' for i in node.input)
        ]
        counts[keep] = sum(n.op_type == 'QuantizeLinear' for n in graph.node)
        return {n.op_type for n in read} | (attention & {n.name for n in read})

    assert {'LayerNormalization', 'Softmax', 'Gemm', 'MatMul'
            } | attention <= quantized_inputs(())
    elementwise = quantized_inputs(('elementwise', ))
    assert {'Gemm', 'MatMul', 'Conv'} | attention <= elementwise
    all_groups = quantized_inputs(('elementwise', 'attention', 'head'))
    assert {'MatMul', 'Conv'} <= all_groups
    assert not {'LayerNormalization', 'Softmax', 'Gemm'} & all_groups
    assert not attention & all_groups
    # each group kept float removes quantize nodes
    assert counts[()] > counts[('elementwise', )] > counts[(
        'elementwise', 'attention', 'head')]
    with pytest.raises(ValueError, match='keep-float groups'):
        quantize_int8(fp32, str(tmp_path / 'x.onnx'), clips, ('norms', ))
    np.testing.assert_equal(os.path.exists(tmp_path / 'x.onnx'), False)


def test_infer_onnx_equals_inference_recognizer(tool, trained, capsys):
    """tools/deployment/infer_onnx.py on one video prints the scores that
    MMAction2's inference_recognizer gives with the PyTorch checkpoint."""
    from mmengine.config import Config

    from mmaction.apis import inference_recognizer, init_recognizer
    options = overrides(trained['data'], ['test_pipeline.3.scale=(32,32)'])
    out = trained['root'] / 'infer_fp32.onnx'
    assert tool.main([
        CONFIG, trained['checkpoint'], '--out',
        str(out), '--cfg-options', *options
    ]) == 0
    infer = load_tool('tools/deployment/infer_onnx.py')
    capsys.readouterr()
    assert infer.main([
        CONFIG,
        str(out), trained['video'], '--topk', '10', '--cfg-options', *options
    ]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [rank for rank, _, _ in lines] == [str(i) for i in range(1, 11)]
    got = {int(label): float(score) for _, label, score in lines}
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(parse_cfg_options(options))
    # the unmerged checkpoint, as training left it, in plain MMAction2
    model = init_recognizer(cfg, trained['checkpoint'], device='cpu')
    want = inference_recognizer(model, trained['video']).pred_score
    assert want.shape == (10, ) and cfg.model.cls_head.average_clips == 'prob'
    assert sorted(got) == list(range(10))
    assert max(abs(got[c] - float(want[c])) for c in got) < 1e-4
    assert int(lines[0][1]) == int(want.argmax())
    # a missing model is an error naming it
    assert infer.main([CONFIG, 'missing.onnx', trained['video']]) == 1
    assert 'missing.onnx' in capsys.readouterr().err


def test_benchmark_times_int8_and_fp32_in_the_same_rounds(trained):
    """benchmark_onnx.py --precisions fp32 int8 (tiny model, 1 round)."""
    bench = load_tool('tools/deployment/benchmark_onnx.py')
    out = trained['root'] / 'bench.json'
    assert bench.main([
        CONFIG, '--precisions', 'fp32', 'int8', '--rounds', '2', '--warmup',
        '0', '--calib-clips', '2', '--no-pytorch', '--json',
        str(out), '--cfg-options', *overrides(trained['data'])
    ]) == 0
    report = json.load(open(out))
    assert sorted(report['seconds']) == sorted(f'onnxruntime_{p}{g}'
                                               for p in ('', 'int8_')
                                               for g in ('merged', 'plain'))
    assert all(len(v) == 3 for v in report['seconds'].values())
    assert set(
        report['merged_over_plain']) == {'onnxruntime', 'onnxruntime_int8'}
    assert set(report['int8_over_fp32']) == {'merged', 'plain'}
    for name in ('merged', 'plain'):
        graph = report['graphs'][f'int8_{name}']
        assert 'QuantizeLinear' in graph['nodes']['by_type']
        assert graph['bytes'] < report['graphs'][name]['bytes']
        assert graph['max_abs_diff_vs_pytorch'] < 1


def test_fp16_export_checks_overflow(tool, trained, capsys):
    out = trained['root'] / 'fp16.onnx'
    assert quantize(tool, trained, out, 'fp16', '--verify') == 0
    report = json.load(open(str(out) + '.report.json'))
    peaks = report['fp16_overflow_check']
    assert not peaks['overflow'] and 0 < peaks['max_abs'] < 65504
    assert report['verification']['top1_agreement'] >= 0.99
    assert report['verification']['max_abs_diff'] < 0.05
    weights = [
        init.data_type for init in onnx.load(str(out)).graph.initializer
        if len(init.dims) >= 2
    ]
    assert weights and set(weights) == {onnx.TensorProto.FLOAT16}
    # The pixels in and the scores out stay float32.
    from zeroi2v_mm.deployment import run_exported
    clips = torch.rand(2, 3, 8, 32, 32) * 255
    assert run_exported(str(out), clips).dtype == torch.float32


def test_fp16_overflow_is_refused(tool, trained, tmp_path, capsys):
    """A model whose scores exceed the float16 range (a head bias of 1e5)
    is refused and not written."""
    state = torch.load(trained['checkpoint'], map_location='cpu')
    state['state_dict']['cls_head.fc_cls.bias'].fill_(1e5)
    checkpoint = str(tmp_path / 'huge.pth')
    torch.save(state, checkpoint)
    out = tmp_path / 'fp16.onnx'
    assert tool.main([
        CONFIG, checkpoint, '--out',
        str(out), '--quantize', 'fp16', '--verify', '--cfg-options',
        *overrides(trained['data'])
    ]) == 1
    err = capsys.readouterr().err
    assert 'float16 range' in err and 'not written' in err
    assert sorted(os.listdir(tmp_path)) == ['huge.pth']
