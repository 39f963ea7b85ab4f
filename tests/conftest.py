"""Test fixtures: default-scope isolation and the tiny synthetic datasets (helpers live in tests/helpers.py)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

os.environ.setdefault('PYTHONWARNINGS', 'ignore')


@pytest.fixture(autouse=True)
def isolated_default_scope():
    """Drops the mmengine default scopes a test created (a runner or ``init_default_scope('mmdet')``), so a later
    test's ``Registry.build`` does not look its types up in another project's registry."""
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in [n for n in DefaultScope._instance_dict if n not in before]:
        DefaultScope._instance_dict.pop(name)


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory) -> Path:
    """A small copy of every synthetic dataset (8 train / 4 val images each), made once per test session."""
    out = tmp_path_factory.mktemp('synthetic')
    subprocess.run([sys.executable, str(ROOT / 'tools/data/make_synthetic.py'), '--out', str(out), '--num-train',
                    '8', '--num-val', '4'], check=True, capture_output=True)
    return out
