"""Deployment export (tools/deployment/export_onnx.py): ONNX with both
exporters, TorchScript and torch.export, each equal to PyTorch; --verify
refuses a graph that computes something else (STDHA removed)."""
import os.path as osp

import onnx  # noqa: F401  (the export extra must be installed: fail early)
import pytest
import torch

from helpers import parse_cfg_options
from helpers.deployment import CONFIG, LAYERS, overrides, reference_scores


def export(tool, trained, out, *extra, cfg_extra=()):
    argv = [
        CONFIG, trained['checkpoint'], '--out',
        str(out), *extra, '--cfg-options',
        *overrides(trained['data'], cfg_extra)
    ]
    return tool.main(argv)


@pytest.mark.parametrize('exporter', ['torchscript', 'dynamo'])
def test_onnx_export_equals_pytorch_in_onnxruntime(tool, trained, exporter,
                                                   capsys):
    from zeroi2v_mm.deployment import onnx_node_counts, run_exported
    out = trained['root'] / f'model_{exporter}.onnx'
    assert export(tool, trained, out, '--exporter', exporter, '--verify',
                  '--video', trained['video']) == 0
    printed = capsys.readouterr().out
    assert 'merged the checkpoint' in printed
    assert f"decoded {trained['video']}" in printed
    assert osp.isfile(out)
    # Our own check, independent of --verify: onnxruntime vs the unmerged
    # eager model (in-place STDHA) at another batch size.
    clips = torch.rand(
        3, 3, 8, 32, 32, generator=torch.Generator().manual_seed(5)) * 255
    got = run_exported(str(out), clips)
    want = reference_scores(trained, clips)
    assert got.shape == (3, 10)
    assert (got - want).abs().max() < 1e-4
    # STDHA is in the graph as gathers (no ScatterND), and costs few nodes
    # over the plain ViT exported the same way.
    counts = onnx_node_counts(str(out))
    assert 'ScatterND' not in counts['by_type']
    plain = trained['root'] / f'plain_{exporter}.onnx'
    assert export(
        tool,
        trained,
        plain,
        '--exporter',
        exporter,
        cfg_extra=['model.backbone.stdha=None']) == 0
    extra = counts['compute'] - onnx_node_counts(str(plain))['compute']
    # Per block, whatever the number of head groups: one Gather with the
    # layer's precomputed index, and the reshapes around it (3 in the dynamo
    # graph; with the TorchScript exporter they replace the plain ViT's
    # shape arithmetic, constant sizes, so only 1 more). Issue 16 asks for
    # no more than a handful (<= 5).
    per_block = {'dynamo': 4, 'torchscript': 2}[exporter]
    assert extra == per_block * LAYERS, (exporter, extra, counts['by_type'])
    assert counts['by_type']['Gather'] - onnx_node_counts(
        str(plain))['by_type'].get('Gather', 0) == LAYERS
    assert per_block <= 5


def test_verify_refuses_a_graph_without_stdha(tool, trained, capsys):
    """A graph that lost the head relocation (here: exported from the same
    weights with STDHA disabled) fails --check / --verify."""
    wrong = trained['root'] / 'no_stdha.onnx'
    assert export(
        tool, trained, wrong, cfg_extra=['model.backbone.stdha=None']) == 0
    code = tool.main([
        CONFIG, trained['checkpoint'], '--check',
        str(wrong), '--cfg-options', *overrides(trained['data'])
    ])
    assert code == 1
    assert 'VERIFICATION FAILED' in capsys.readouterr().err


def test_failed_verify_keeps_the_existing_file(tool, trained, capsys):
    out = trained['root'] / 'kept.onnx'
    out.write_bytes(b'an earlier good export')
    # onnxruntime and PyTorch never agree to the last bit: tolerance 0 fails.
    assert export(tool, trained, out, '--force', '--verify', '--tolerance',
                  '0') == 1
    assert out.read_bytes() == b'an earlier good export'
    assert not osp.exists(trained['root'] / 'kept.unverified.onnx')
    assert 'not written' in capsys.readouterr().err


@pytest.mark.parametrize('fmt,suffix', [('torchscript', '.pt'),
                                        ('exported_program', '.pt2')])
def test_torchscript_and_torch_export(tool, trained, fmt, suffix):
    from zeroi2v_mm.deployment import run_exported
    out = trained['root'] / f'model{suffix}'
    assert export(tool, trained, out, '--verify') == 0
    clips = torch.rand(
        3, 3, 8, 32, 32, generator=torch.Generator().manual_seed(6)) * 255
    got = run_exported(str(out), clips)
    assert (got - reference_scores(trained, clips)).abs().max() < 1e-4


def test_existing_out_is_not_overwritten(tool, trained):
    out = trained['root'] / 'exists.onnx'
    out.write_bytes(b'x')
    with pytest.raises(SystemExit, match='--force'):
        export(tool, trained, out)


def test_merged_checkpoint_exports_with_the_training_config(tool, trained):
    """A merged checkpoint (what MergeAdaptersHook writes) given with the
    config it was trained with loads into that config's merged variant and
    exports to the same scores."""
    from zeroi2v_mm.deployment import load_deployable_model, run_exported
    model, _, info = load_deployable_model(
        CONFIG, trained['checkpoint'],
        parse_cfg_options(overrides(trained['data'])))
    assert info['merged_here']
    merged_ckpt = str(trained['root'] / 'merged.pth')
    torch.save(dict(state_dict=model.state_dict()), merged_ckpt)
    again, _, info = load_deployable_model(
        CONFIG, merged_ckpt, parse_cfg_options(overrides(trained['data'])))
    assert not info['merged_here']
    assert again.backbone.method is None
    out = trained['root'] / 'from_merged.onnx'
    assert tool.main([
        CONFIG, merged_ckpt, '--out',
        str(out), '--verify', '--cfg-options', *overrides(trained['data'])
    ]) == 0
    clips = torch.rand(
        2, 3, 8, 32, 32, generator=torch.Generator().manual_seed(7)) * 255
    assert (run_exported(str(out), clips) -
            reference_scores(trained, clips)).abs().max() < 1e-4
