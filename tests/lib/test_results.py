"""The chapter contract's results layer: claims, atomic JSON, provenance, the runner's checks."""

import json

import pytest

from robustbook.book.chapter import ChapterResult
from robustbook.book.claims import Expect, check, finding
from robustbook.book.results import ChapterRun, mean_std, write_json_atomic
from robustbook.chapters import CHAPTERS, get_chapter, implemented
from robustbook.cli import main, parse_value
from robustbook.runner import run_key, validate_params


def test_atomic_write_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})  # fails half-way through serialising
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_chapter_run_record_has_the_contract_fields(tmp_path):
    run = ChapterRun("demo", {"preset": "cpu", "seed": 0})
    claims = [finding("f1", "a statement", "paper: 1", "measured: 1", on_mean=True, per_seed=[True, False],
                      expect=Expect(False, "too small here")),
              check("c1", "an identity", "proved", "gap 0", True)]
    record = run.finish(ChapterResult(metrics={"m": 1.0}, claims=claims), tmp_path / "out.json")
    on_disk = json.loads((tmp_path / "out.json").read_text())
    assert set(on_disk) == {"chapter", "params", "metrics", "claims", "counts", "env", "wall_s"}
    assert on_disk["claims"][0] == {"id": "f1", "kind": "finding", "statement": "a statement",
                                    "paper": "paper: 1", "measured": "measured: 1 [1/2 seeds]",
                                    "holds": False, "expected": False, "expected_why": "too small here",
                                    "seeds": [1, 2], "fragile": False, "post_hoc": False}
    assert on_disk["claims"][1]["kind"] == "check" and on_disk["claims"][1]["seeds"] is None
    assert on_disk["counts"]["not_reproduced_expected"] == 1 and on_disk["counts"]["checks_passed"] == 1
    assert {"python", "packages", "git", "finished_utc"} <= set(record["env"])
    assert record["env"]["packages"]["torch"]


def test_mean_std():
    assert mean_std([0.5, 0.7], 100) == "60.0 ± 10.0 (n=2)"


def test_registry_names_ten_chapters_and_files_follow_the_slug():
    assert len(CHAPTERS) == 10 and [c.number for c in sorted(CHAPTERS.values(), key=lambda c: c.number)] == list(range(1, 11))
    assert get_chapter("sam-label-noise").stem == "01_sam-label-noise"
    assert implemented()[0].slug == "sam-label-noise"
    with pytest.raises(KeyError, match="known chapters"):
        get_chapter("sam")


def test_parameters_are_validated_before_any_kernel():
    info = get_chapter("sam-label-noise")
    with pytest.raises(ValueError, match="unknown parameter"):
        validate_params(info, {"noise": 0.3})
    with pytest.raises(ValueError, match=r"label_noise_rate must be in \[0, 1\)"):
        validate_params(info, {"label_noise_rate": 1.5})
    with pytest.raises(ValueError, match="preset must be one of"):
        validate_params(info, {"preset": "gpu"})


def test_paper_preset_without_data_is_refused_before_any_kernel(capsys, tmp_path):
    info = get_chapter("sam-label-noise")
    with pytest.raises(FileNotFoundError, match="needs data_dir"):
        validate_params(info, {"preset": "paper"})
    with pytest.raises(FileNotFoundError, match="files missing in .*cifar-10-batches-py"):
        validate_params(info, {"preset": "paper", "data_dir": str(tmp_path)})
    assert main(["run", "sam-label-noise", "-p", "preset", "paper", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "chapter sam-label-noise" in err and "data_dir" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_bad_parameters_clearly(capsys):
    assert main(["run", "sam-label-noise", "-p", "label_noise_rate", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "label_noise_rate must be in [0, 1)" in err and "Traceback" not in err
    assert main(["run", "no-such-chapter"]) == 2
    assert "known chapters" in capsys.readouterr().err


def test_parse_value_and_run_key(root):
    assert parse_value("0.4") == 0.4 and parse_value("3") == 3 and parse_value("none") is None
    assert parse_value("[0, 1]") == [0, 1] and parse_value("1-sam") == "1-sam"
    nb = root / "notebooks" / "01_sam-label-noise.ipynb"
    assert run_key(nb, {"seed": 1}) == run_key(nb, {"seed": 1}) != run_key(nb, {"seed": 2})


def test_library_hash_ignores_other_chapters_but_not_capability_code(tmp_path):
    from robustbook.runner import library_hash

    for rel in ("optim/sam.py", "chapters/__init__.py", "chapters/one/__init__.py", "chapters/two/x.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# {rel}\n")
    before = library_hash("pkg.chapters.one", tmp_path)
    (tmp_path / "chapters/two/x.py").write_text("# edited\n")
    assert library_hash("pkg.chapters.one", tmp_path) == before
    (tmp_path / "chapters/one/__init__.py").write_text("# edited\n")
    after_own = library_hash("pkg.chapters.one", tmp_path)
    assert after_own != before
    (tmp_path / "cli.py").write_text("# the application layer\n")
    assert library_hash("pkg.chapters.one", tmp_path) == after_own  # runs chapters, computes nothing
    (tmp_path / "optim/sam.py").write_text("# edited\n")
    assert library_hash("pkg.chapters.one", tmp_path) != after_own


@pytest.mark.parametrize("info", implemented(), ids=lambda c: c.slug)
def test_every_paper_preset_checks_its_inputs_before_a_kernel_starts(info, tmp_path):
    """`robustbook run <chapter> -p preset paper` with nothing on disk is refused in this process,
    naming what is missing (Config.require_data), instead of failing inside a kernel."""
    with pytest.raises(FileNotFoundError, match=info.slug):
        validate_params(info, {"preset": "paper", "data_dir": str(tmp_path)})
