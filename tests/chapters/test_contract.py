"""The chapter contract (DESIGN.md §3), checked the same way for every written chapter:
the parameters cell lists exactly the Config fields, the source notebook is clean and cites its
paper, nbval re-checks the claims table of a smoke execution, and the cpu results carry provenance.
Each chapter's own test file checks its science."""

import ast
import dataclasses
import json
import subprocess
import sys

import papermill as pm
import pytest
import torch

from robustbook.chapters import implemented
from tests.conftest import executed_chapter

CHAPTERS = [pytest.param(c, id=c.slug, marks=pytest.mark.xdist_group(c.slug)) for c in implemented()]
REQUIRED_FIRST = ["preset", "seed", "device", "data_dir", "results_path"]


def _source(root, info):
    return root / "notebooks" / f"{info.stem}.ipynb"


@pytest.mark.parametrize("info", CHAPTERS)
def test_parameters_cell_lists_exactly_the_config_fields(root, info):
    params = pm.inspect_notebook(str(_source(root, info)))
    fields = dataclasses.fields(info.load().Config)
    assert list(params) == [f.name for f in fields]
    assert list(params)[:5] == REQUIRED_FIRST
    for f in fields:
        default = ast.literal_eval(params[f.name]["default"])
        assert default == f.default or (isinstance(default, list) and tuple(default) == f.default), f.name
        assert params[f.name]["help"], f"parameter {f.name} has no help comment"


@pytest.mark.parametrize("info", CHAPTERS)
def test_source_notebook_is_clean_tagged_and_cites_its_paper(root, info):
    cells = json.loads(_source(root, info).read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert not any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code")
    assert any("# NBVAL_CHECK_OUTPUT" in "".join(c["source"]) and "claims_table" in "".join(c["source"])
               for c in cells)
    assert "".join(cells[0]["source"]).startswith(f"# {info.number:02d} · ")
    assert any(f"{{cite}}`{info.bibkey}`" in "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.slow
@pytest.mark.parametrize("info", CHAPTERS)
def test_nbval_rechecks_the_claims_table_of_a_smoke_execution(tmp_path, root, monkeypatch, info):
    executed = tmp_path / f"{info.stem}.smoke.ipynb"
    monkeypatch.setenv("ROBUSTBOOK_STATIC", "1")
    pm.execute_notebook(str(_source(root, info)), str(executed), parameters={"preset": "smoke"},
                        cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:xdist", "-p",
                           "no:cacheprovider", "-o", "addopts=", str(executed)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "passed" in proc.stdout


@pytest.mark.chapter
@pytest.mark.parametrize("info", CHAPTERS)
def test_cpu_results_carry_provenance(info):
    record = executed_chapter(info.slug)
    assert set(record) >= {"chapter", "params", "metrics", "claims", "env", "wall_s", "run_key"}
    assert record["chapter"] == info.slug and record["params"]["preset"] == "cpu" and record["wall_s"] > 0
    assert record["env"]["packages"]["torch"] == torch.__version__.split("+")[0]
    assert record["env"]["git"]
    for claim in record["claims"]:
        assert set(claim) >= {"id", "statement", "paper", "measured", "holds"}
        assert claim["holds"] in (True, False), f"claim {claim['id']} was not judged at preset cpu"
