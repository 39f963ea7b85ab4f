"""Model zoo: measure every entry config of ``model-index.yml`` and write the numbers into the metafiles and the
README tables, so that the tables cannot drift from the code.

    python tools/analysis/model_zoo.py            # measure parameters, update metafiles + README
    python tools/analysis/model_zoo.py --flops    # also FLOPs (whole model at each entry's "Input"; minutes)
    python tools/analysis/model_zoo.py --check    # measure parameters, change nothing, exit 1 on any drift

Parameters are those of the whole model built from the config (backbone, neck, heads; a pretraining
algorithm's teacher included). FLOPs are multiply-adds (the papers' convention) of the whole model in tensor
mode at ``Metadata.Input`` (H, W), measured with mmengine's counter (``mmconvmae.analysis.count_flops``).
"""
import argparse
import copy
import sys
from pathlib import Path
from typing import Dict, List, Optional

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = '<!-- model-zoo:begin -->', '<!-- model-zoo:end -->'


# ---- metafiles ---------------------------------------------------------------------------------------------------
def metafile_paths(root: Path = ROOT) -> List[Path]:
    index = yaml.safe_load((root / 'model-index.yml').read_text())
    return [root / p for p in index['Import']]


def read_metafile(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write_metafile(path: Path, data: dict) -> None:
    header = ''.join(line + '\n' for line in path.read_text().splitlines() if line.startswith('#'))
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    path.write_text(header + body)


# ---- measuring ---------------------------------------------------------------------------------------------------
def build_model(config: str, device: str = 'meta'):
    """Builds the model of ``config`` (no weights loaded). On the meta device it costs no memory or init time."""
    from mmconvmae.analysis import load_model
    with torch.device(device):
        return load_model(str(ROOT / config))


def measure(entry: dict, flops: bool = False) -> Dict[str, int]:
    """``dict(params=..., [flops=...])`` of one metafile model entry."""
    try:
        _, model = build_model(entry['Config'], 'meta')
    except Exception:  # a module that computes values at build time: build it for real
        _, model = build_model(entry['Config'], 'cpu')
    from mmconvmae.analysis import analysis_target, count_flops, count_params
    out = dict(params=count_params(model))
    shape = entry['Metadata'].get('Input')
    if flops and shape:
        cfg, model = build_model(entry['Config'], 'cpu')
        with torch.no_grad():
            out['flops'] = count_flops(analysis_target(cfg, model, 'model'), torch.randn(1, 3, *shape))
    return out


# ---- rendering ---------------------------------------------------------------------------------------------------
def human(n: Optional[int], unit: str) -> str:
    if n is None:
        return '–'
    scale = 1e6 if unit == 'M' else 1e9
    return f'{n / scale:.1f}{unit}'


def _result_text(entry: dict) -> str:
    parts = []
    for result in entry.get('Results') or []:
        metrics = ', '.join(f'{v} {k}' for k, v in result['Metrics'].items())
        parts.append(f'{result["Dataset"]}: {metrics}')
    return '; '.join(parts) or '–'


def render_collection(name: str, entries: List[dict]) -> str:
    rows = ['| config | params (ours / paper) | FLOPs (ours / paper) @ input | paper result | weights it expects |',
            '|---|---|---|---|---|']
    for e in entries:
        meta = e['Metadata']
        paper = meta.get('Paper') or {}
        shape = meta.get('Input')
        flops = f'{human(meta.get("FLOPs"), "G")} / {paper.get("FLOPs", "–")}'
        if shape:
            flops += f' @ {shape[0]}x{shape[1]}'
        weights = meta.get('Pretrained', '–')
        if e.get('Weights'):
            weights = f'[{weights}]({e["Weights"]})'
        rows.append(f'| [`{e["Config"]}`]({e["Config"]}) | {human(meta.get("Parameters"), "M")} / '
                    f'{paper.get("Parameters", "–")} | {flops} | {_result_text(e)} | {weights} |')
    return f'#### {name}\n\n' + '\n'.join(rows) + '\n'


def render(metafiles: List[dict]) -> str:
    blocks = []
    for data in metafiles:
        for coll in data['Collections']:
            entries = [m for m in data['Models'] if m['In Collection'] == coll['Name']]
            blocks.append(render_collection(coll['Name'], entries))
    note = ('Parameters: whole model built from the config; FLOPs: multiply-adds of the whole model at the input '
            'shown (H x W), both measured by `python tools/analysis/model_zoo.py --flops`. "paper" columns and '
            'results are the papers\' numbers for the config\'s recipe (not re-trained here). A test rebuilds every '
            'config and fails when these parameter counts drift from the code.\n\n')
    return note + '\n'.join(blocks)


def replace_section(text: str, section: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f'README.md needs the markers {BEGIN} and {END} around the model zoo tables')
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f'{head}{BEGIN}\n{section}{END}{tail}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--flops', action='store_true', help='also measure FLOPs (slow on CPU)')
    parser.add_argument('--check', action='store_true', help='compare parameters only; write nothing')
    parser.add_argument('--only', help='only entries whose name or config contains this string')
    args = parser.parse_args(argv)

    drift, metafiles = [], []
    for path in metafile_paths():
        data = read_metafile(path)
        updated = copy.deepcopy(data)
        for entry in updated['Models']:
            if args.only and args.only not in entry['Name'] and args.only not in entry['Config']:
                continue
            got = measure(entry, flops=args.flops and not args.check)
            meta = entry['Metadata']
            print(f'{entry["Config"]}: {human(got["params"], "M")} params'
                  + (f', {human(got["flops"], "G")} FLOPs' if 'flops' in got else ''), flush=True)
            if meta.get('Parameters') != got['params']:
                drift.append(f'{entry["Config"]}: metafile says {meta.get("Parameters")}, measured {got["params"]}')
            meta['Parameters'] = got['params']
            if 'flops' in got:
                meta['FLOPs'] = got['flops']
        metafiles.append(updated)
        if not args.check and updated != data:
            write_metafile(path, updated)
    readme = (ROOT / 'README.md').read_text()
    new_readme = replace_section(readme, render(metafiles))
    if args.check:
        if new_readme != readme:
            drift.append('README.md model zoo tables differ from the metafiles '
                         '(run python tools/analysis/model_zoo.py)')
        for line in drift:
            print('DRIFT:', line)
        return 1 if drift else 0
    (ROOT / 'README.md').write_text(new_readme)
    return 0


if __name__ == '__main__':
    sys.exit(main())
