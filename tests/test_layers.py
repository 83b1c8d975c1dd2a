"""The architecture holds: hdap -> twin -> zoo -> testbed, and no import cycles inside a package.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter checks every import
statement, the lazy ones inside functions included. A planted upward import must break them.
"""

import shutil
import subprocess
import sys
import textwrap

from conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(cwd):
    return subprocess.run(LINT, cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": ""})


def test_the_project_keeps_its_import_contracts():
    r = lint(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_an_upward_import_or_a_cycle_breaks_the_contracts(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    for pkg in ("testbed", "zoo", "twin", "hdap"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "zoo" / "registry.py").write_text("import testbed\n")
    assert lint(tmp_path).returncode == 0
    # the world reaching into the method, lazily, as twin/ once did in seven places
    (tmp_path / "twin" / "scenario.py").write_text(textwrap.dedent("""\
        def check():
            from hdap.config import PruningSpec
        """))
    (tmp_path / "hdap" / "config.py").write_text("PruningSpec = None\n")
    r = lint(tmp_path)
    assert r.returncode == 1 and "twin.scenario -> hdap.config" in r.stdout, r.stdout
    (tmp_path / "twin" / "scenario.py").write_text("import twin.sku\n")
    (tmp_path / "twin" / "sku.py").write_text("import twin.scenario\n")
    r = lint(tmp_path)
    assert r.returncode == 1 and "No import cycles between the modules of any package BROKEN" in r.stdout, r.stdout
