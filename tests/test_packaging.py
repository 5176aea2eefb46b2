"""An adoptable package: the license, the citation, the version, and dependency ranges that the
book's exact lock satisfies (so `pip install -e .` works in a researcher's environment while
`make setup` reproduces the book's environment byte for byte)."""

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from robustbook import __version__
from robustbook.cli import main


def _pyproject(root):
    return tomllib.loads((root / "pyproject.toml").read_text())


def _lock(root) -> dict[str, Version]:
    pins = {}
    for line in (root / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_direct_dependency_is_a_range_the_lock_satisfies(root):
    project, pins = _pyproject(root)["project"], _lock(root)
    requirements = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    assert len(requirements) > 20
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock"
        assert pins[name] in req.specifier, f"lock pins {req.name}=={pins[name]} outside {req.specifier}"
        assert not any(s.operator == "==" for s in req.specifier), f"{req}: a library declares ranges, not pins"
        assert any(s.operator == ">=" for s in req.specifier), f"{req}: no tested lower bound"


def test_upper_bounds_are_only_where_a_major_version_breaks(root):
    text = (root / "pyproject.toml").read_text()
    bounded = re.findall(r'^\s+"([^"]*<[^"]*)",\s*(#.*)?$', text, flags=re.M)
    assert bounded, "jupyter-book must stay below 2"
    for spec, reason in bounded:
        assert reason, f"{spec}: an upper bound needs its reason in a comment"
    assert Version("2") not in Requirement(next(s for s, _ in bounded if s.startswith("jupyter-book"))).specifier


def test_environment_yml_installs_the_lock_and_the_library(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-r requirements.lock", "-e ."]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert _pyproject(root)["project"]["requires-python"] == ">=" + python.split("=")[1]


def test_license_citation_and_version_agree(root, capsys):
    project = _pyproject(root)["project"]
    assert project["license"] == "MIT" and (root / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["version"] == project["version"] == __version__
    book = yaml.safe_load((root / "_config.yml").read_text())
    assert citation["repository-code"] == book["repository"]["url"]
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"robustbook {__version__}"


def test_every_non_python_file_the_library_reads_is_declared_package_data(root):
    """A chapter on a cluster worker or from a wheel has only the package: every data file under
    lib/robustbook must be matched by pyproject's package-data, and every pattern must match a file."""
    lib = root / "lib"
    declared = _pyproject(root)["tool"]["setuptools"]["package-data"]
    matched = set()
    for package, patterns in declared.items():
        folder = lib.joinpath(*package.split("."))
        for pattern in patterns:
            files = set(folder.glob(pattern))
            assert files, f"package-data {package}: {pattern} matches nothing"
            matched |= files
    data = {p for p in (lib / "robustbook").rglob("*")
            if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts}
    assert data <= matched, sorted(str(p.relative_to(lib)) for p in data - matched)
