import subprocess
import sys

import lmlab


def test_every_exported_name_resolves():
    for name in lmlab.__all__:
        assert getattr(lmlab, name) is not None, name


def test_importing_lmlab_does_not_import_torch():
    code = "import sys, lmlab; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
