"""The command line shared by ``tools/convert/<family>.py``: read, ``convert()``, check, save, report."""
import argparse
import importlib
from typing import Optional, Sequence

import torch

from ..utils.checkpoint import extract_state_dict, read_checkpoint


def main(family: str, doc: str, argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the converter of ``family`` (a module of :mod:`mmconvmae.models.convert`) on the command line ``argv``.

    The family module provides ``convert(checkpoint, **flags)``, ``CLI_FLAGS`` (``{'--flag': help}``, boolean
    switches passed to ``convert`` by their argparse names), ``SRC_HELP`` and ``REQUIRED`` (``(key prefix, what)``:
    the output must have a key under the prefix, else the file is refused naming what it should hold).
    Writes ``{'state_dict': ..., 'meta': {'converted_from': src}}`` and returns the converted state dict.
    """
    module = importlib.import_module(f'{__package__}.{family}')
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('src', help=module.SRC_HELP)
    parser.add_argument('dst', help='output file (.pth)')
    for flag, text in module.CLI_FLAGS.items():
        parser.add_argument(flag, action='store_true', help=text)
    args = vars(parser.parse_args(argv))
    src, dst = args.pop('src'), args.pop('dst')
    checkpoint = read_checkpoint(src)
    state = module.convert(checkpoint, **args)
    prefix, what = module.REQUIRED
    if not any(k.startswith(prefix) for k in state):
        raise SystemExit(f'{src} holds no {what} (no {prefix}* key after conversion); its keys start with '
                         f'{sorted({k.split(".")[0] for k in extract_state_dict(checkpoint)})[:10]}')
    torch.save({'state_dict': state, 'meta': {'converted_from': src}}, dst)
    counts = {}
    for key in state:
        counts[key.split('.')[0]] = counts.get(key.split('.')[0], 0) + 1
    print(f'converted {len(state)} tensors ({", ".join(f"{n} {part}" for part, n in counts.items())}) -> {dst}')
    return state
