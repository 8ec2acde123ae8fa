# Merged-inference variant of zeroi2v_ava.py: backbone adapters folded
# (adapters=None), for the <work_dir>/zeroi2v_ava_merged.pth that
# MergeAdaptersHook or tools/merge_adapters.py writes. The detection head is
# untouched by the merge.
_base_ = ['./zeroi2v_ava.py']

model = dict(backbone=dict(adapters=None, pretrained=None))
custom_hooks = []
