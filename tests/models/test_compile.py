"""torch.compile: STDHA, the linear adapters, InTI and the merged model trace
into one graph (no graph breaks: ``torch._dynamo.explain`` lists none) and
the compiled model computes what the eager one does, for inference and for a
training step.

Most tests compile with the ``aot_eager`` backend: it runs TorchDynamo's
capture and AOTAutograd's functionalisation and joint forward/backward
tracing (where in-place STDHA updates or Python-side control flow would
break or go wrong), without Inductor's C++ code generation, which takes
about 30 s even for a tiny model on 2 cores: one test (marked slow) does
compile the merged model with Inductor, what ``tools/benchmark.py
--compile`` times (docs/en/advanced_guides/benchmark_cpu.md).
"""
import copy

import pytest
import torch
import torch._dynamo

from zeroi2v_mm.models import ZeroI2VViT
from zeroi2v_mm.reparam import merge_adapters

from helpers import TINY_ARCH, randomize_adapters

ARCH = dict(TINY_ARCH, layers=2)
CONFIGS = {
    'stdha+6 adapters':
    dict(
        stdha=dict(offsets={
            -1: 1,
            1: 1,
            2: 1
        }),
        adapters=dict(num_adapters=6, scale=1.0)),
    'inti':
    dict(compress=dict(type='InTI', after_blocks=(1, ))),
    'inti+stdha+adapters':
    dict(
        stdha=dict(offsets={
            -1: 1,
            1: 1
        }),
        adapters=dict(num_adapters=4, scale=0.5),
        compress=dict(type='InTI', after_blocks=(1, ))),
}


def build(name: str) -> ZeroI2VViT:
    torch.manual_seed(0)
    model = ZeroI2VViT(arch=ARCH, num_frames=8, **CONFIGS[name])
    randomize_adapters(model)
    with torch.no_grad():  # non-zero temporal embedding and InTI sigma
        model.temporal_embedding.normal_(std=0.1)
        for name_, param in model.named_parameters():
            if name_.endswith('sigma'):
                param.fill_(0.5)
    return model


def clips(batch: int = 2) -> torch.Tensor:
    return torch.randn(
        batch, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


# fullgraph=True makes any graph break an error (what torch._dynamo.explain
# would list as break_reasons), at half the cost of a separate explain().
@pytest.mark.parametrize('name,merged', [('inti+stdha+adapters', False),
                                         ('inti+stdha+adapters', True),
                                         ('stdha+6 adapters', True)])
def test_inference_has_no_graph_breaks_and_matches_eager(name, merged):
    model = build(name).eval()
    if merged:
        model = merge_adapters(copy.deepcopy(model))
    x = clips()
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    with torch.no_grad():
        expected = model(x)
        actual = compiled(x)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize('name', ['inti+stdha+adapters'])
def test_training_step_compiles_and_matches_eager_gradients(name):
    eager = build(name).train()
    compiled_model = copy.deepcopy(eager)
    # dropout off in both: the comparison needs the same function
    for model in (eager, compiled_model):
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    compiled = torch.compile(
        compiled_model, backend='aot_eager', fullgraph=True)
    x = clips()
    for model, forward in ((eager, eager), (compiled_model, compiled)):
        forward(x).square().mean().backward()
    grads = {n: p.grad for n, p in eager.named_parameters() if p.requires_grad}
    assert grads and all(g is not None for g in grads.values())
    for name_, param in compiled_model.named_parameters():
        if param.requires_grad:
            torch.testing.assert_close(
                param.grad, grads[name_], rtol=1e-4, atol=1e-6, msg=name_)


def explained(function, *args):
    """``torch._dynamo.explain`` of one call: graphs, breaks and reasons."""
    explanation = torch._dynamo.explain(function)(*args)
    reasons = [str(reason.reason) for reason in explanation.break_reasons]
    return explanation.graph_count, explanation.graph_break_count, reasons


# What TorchDynamo reports, asked directly (the tests above only know that
# fullgraph=True did not raise): one graph, no break, for the merged model,
# the unmerged one with its adapters, InTI alone and with ZeroI2V, in
# inference and in training mode (dropout on, the loss inside the graph).
@pytest.mark.parametrize('name,merged,train', [
    ('inti+stdha+adapters', True, False),
    ('inti+stdha+adapters', False, False),
    ('stdha+6 adapters', True, False),
    ('stdha+6 adapters', False, True),
    ('inti', False, False),
    ('inti+stdha+adapters', False, True),
])
def test_dynamo_explain_finds_no_graph_breaks(name, merged, train):
    model = build(name)
    if merged:
        model = merge_adapters(copy.deepcopy(model))
    model.train(train)
    x = clips()
    if train:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.1  # dropout on: its random ops in the graph

        def step(x):
            return model(x).square().mean()

        graphs, breaks, reasons = explained(step, x)
    else:
        with torch.no_grad():
            graphs, breaks, reasons = explained(model, x)
    assert (graphs, breaks, reasons) == (1, 0, [])


@pytest.mark.slow  # Inductor generates and compiles C++: ~30-60 s on 2 cores
def test_inductor_compiled_merged_model_equals_eager():
    """What ``tools/benchmark.py --compile`` times: the merged model (plain
    ViT + STDHA + InTI) compiled by Inductor, the default backend, computes
    what the eager model does."""
    import shutil
    if shutil.which('g++') is None and shutil.which('c++') is None:
        pytest.skip('Inductor on CPU needs a C++ compiler')
    model = merge_adapters(copy.deepcopy(build('inti+stdha+adapters').eval()))
    x = clips()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        expected = model(x)
        actual = compiled(x)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)
