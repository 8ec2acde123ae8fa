# MMAction2's runtime defaults, plus the import that registers zeroi2v_mm
# (and applies its fixes for the pinned OpenMMLab stack).
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['zeroi2v_mm'], allow_failed_imports=False)
