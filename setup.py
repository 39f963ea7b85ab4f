import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))


def get_version():
    scope = {}
    with open(osp.join(ROOT, 'mmconvmae', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(fname):
    reqs = []
    with open(osp.join(ROOT, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                reqs.append(line)
    return reqs


# ``mmconvmae.pth`` (one import line) lets ``_base_ = 'mmconvmae::...'`` work in any project: see
# mmconvmae/config_hook.py. It goes to the root of site-packages, in wheels and in editable installs.
PTH = osp.join(ROOT, 'mmconvmae.pth')
# Files shipped under mmconvmae/.mim so that installed (non-editable) packages carry their configs and tools.
MIM_DIRS = ('configs', 'tools', 'model-index.yml')


class BuildPy(build_py):

    def run(self):
        super().run()
        if self.editable_mode:
            return
        shutil.copy(PTH, self.build_lib)
        mim = osp.join(self.build_lib, 'mmconvmae', '.mim')
        for name in MIM_DIRS:
            src = osp.join(ROOT, name)
            dst = osp.join(mim, name)
            if osp.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
            elif osp.isfile(src):
                os.makedirs(mim, exist_ok=True)
                shutil.copy(src, dst)


cmdclass = {'build_py': BuildPy}
try:
    from setuptools.command.editable_wheel import editable_wheel

    class EditableWheel(editable_wheel):

        def _install_namespaces(self, installation_dir, pth_prefix):
            super()._install_namespaces(installation_dir, pth_prefix)
            shutil.copy(PTH, installation_dir)

    cmdclass['editable_wheel'] = EditableWheel
except ImportError:  # setuptools < 64: `setup.py develop` keeps the source tree, configs are found there
    pass

setup(
    name='mmconvmae',
    version=get_version(),
    description='ConvNeXt V2, ConvMAE, iTPN and Conv2Former for OpenMMLab',
    long_description=open(osp.join(ROOT, 'README.md')).read() if osp.exists(osp.join(ROOT, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime.txt') + ['mmcv>=2.0.0,<2.2.0'],
    extras_require={'tests': parse_requirements('tests.txt')},
    zip_safe=False,
    cmdclass=cmdclass,
)
