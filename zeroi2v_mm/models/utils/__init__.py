"""Loading weights into the backbones: CLIP / open_clip / MMEngine files
(``weights.py``) and the released ZeroI2V checkpoints
(``official_checkpoint.py``). Import the submodules directly: the
official-checkpoint converter reads the backbone's architectures, so it is
not imported here (the backbones import ``weights``)."""
