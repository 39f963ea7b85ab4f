"""The model zoo cannot drift from the code, and the analysis tools run on the demo configs."""
import json
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, load_tool, run_tool


model_zoo = load_tool('analysis/model_zoo')


def _entries():
    return [m for p in model_zoo.metafile_paths() for m in model_zoo.read_metafile(p)['Models']]


def test_every_entry_config_is_in_the_model_index():
    """Every user-facing entry config (configs/*.py, configs/pretrain/*.py) has a metafile entry, and every
    metafile entry points at a config that exists."""
    listed = {e['Config'] for e in _entries()}
    entry_configs = {str(p.relative_to(ROOT)) for pattern in ('configs/*.py', 'configs/pretrain/*.py')
                     for p in ROOT.glob(pattern)}
    assert entry_configs - listed == set(), 'entry configs missing from the metafiles of model-index.yml'
    assert {c for c in listed if not (ROOT / c).is_file()} == set(), 'metafile entries without a config'


def test_metafiles_follow_the_openmmlab_format():
    for path in model_zoo.metafile_paths():
        data = model_zoo.read_metafile(path)
        collections = {c['Name'] for c in data['Collections']}
        for c in data['Collections']:
            assert {'Name', 'Paper'} <= set(c), (path, c)
        names = [m['Name'] for m in data['Models']]
        assert len(names) == len(set(names)), f'duplicate model names in {path}'
        for m in data['Models']:
            assert m['In Collection'] in collections, (path, m['Name'])
            assert isinstance(m['Metadata'].get('Parameters'), int), f'{m["Name"]}: run tools/analysis/model_zoo.py'
            for r in m['Results']:
                assert {'Task', 'Dataset', 'Metrics'} <= set(r), (path, m['Name'])


def test_readme_tables_are_the_measured_ones():
    """Rebuilds every entry config (on the meta device), counts its parameters and compares them with the
    metafiles; re-renders the README tables from the metafiles and compares them with README.md."""
    assert model_zoo.main(['--check']) == 0, 'run: python tools/analysis/model_zoo.py'


def test_readme_markers_are_required(tmp_path):
    with pytest.raises(ValueError, match='model-zoo:begin'):
        model_zoo.replace_section('# README without markers\n', 'table')


def test_get_flops_on_demo_configs():
    proc = run_tool('analysis/get_flops.py', 'configs/demo/mask_rcnn_convnextv2_demo.py', '--shape', '128',
                    '--part', 'backbone+neck', timeout=300)
    assert 'FLOPs:' in proc.stdout and 'params:' in proc.stdout, proc.stdout
    flops = float(proc.stdout.split('FLOPs:')[1].split()[0])
    assert flops > 0


@pytest.mark.slow  # 25-70 s; the same path runs in tests/test_demo.py (CI: under 20 min)
def test_benchmark_copies_weights_from_mmpretrain(tmp_path):
    """benchmark.py runs ours and mmpretrain's ConvNeXt(use_grn) with the same weights: outputs agree."""
    out = tmp_path / 'bench.json'
    run_tool('analysis/benchmark.py', 'configs/demo/convnextv2_ft_demo.py', '--shape', '64', '--batch', '1',
             '--repeats', '1', '--warmup', '0', '--copy-weights', '--json', out, '--reference-options',
             'model.backbone._delete_=True', 'model.backbone.type=mmpretrain.ConvNeXt', 'model.backbone.arch=atto',
             'model.backbone.use_grn=True',
             'model.backbone.layer_scale_init_value=0.0', timeout=300)
    result = json.loads(out.read_text())
    assert result['max_abs_diff'] < 1e-4, result
    assert set(result['modes']) == {'forward', 'train'}
    assert all(m['speed_ratio'] > 0 and m['memory_ratio'] > 0 for m in result['modes'].values())


def test_model_index_is_valid_yaml_with_imports():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    assert index['Import'] and all((ROOT / p).is_file() for p in index['Import'])
    assert Path(ROOT / 'docs' / 'benchmarks.md').is_file(), 'run: python tools/analysis/run_benchmarks.py'
