# Merged-inference variant of zeroi2v_synthetic.py: the same model with its
# linear adapters folded into the frozen linears
# (model.backbone.adapters=None), for the
# <work_dir>/zeroi2v_synthetic_merged.pth that MergeAdaptersHook (or
# tools/merge_adapters.py) writes. Same accuracy, image-ViT cost:
#   mim test mmaction configs/demo/zeroi2v_synthetic_merged.py \
#       --checkpoint work_dirs/zeroi2v_synthetic/zeroi2v_synthetic_merged.pth
# Unmerged checkpoints are refused with a message saying how to merge them.
_base_ = ['./zeroi2v_synthetic.py']

# The merged checkpoint holds every weight: the pre-trained image model is
# not read (testing never reads it; pretrained=None says so).
model = dict(backbone=dict(adapters=None, pretrained=None))
# Nothing left to merge; `_delete_` is not needed: a list replaces a list.
custom_hooks = []
