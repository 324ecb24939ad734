"""pyproject.toml, environment.yml and the Makefile must agree on what they install."""

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def env_pip_entries():
    for item in ENVIRONMENT["dependencies"]:
        if isinstance(item, dict) and "pip" in item:
            return item["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_installs_the_project_with_its_extras():
    python = next(
        d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python=")
    )
    version = python.split("=", 1)[1]
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(version + ".0")
    entries = env_pip_entries()
    assert len(entries) == 1, (
        "environment.yml must defer to pyproject.toml, not list packages itself"
    )
    extras = re.fullmatch(r"-e \.\[([a-z,]+)\]", entries[0]).group(1).split(",")
    assert set(extras) == set(PYPROJECT["optional-dependencies"]), (
        "extras differ from pyproject.toml"
    )


def test_makefile_installs_extras_that_exist():
    makefile = (ROOT / "Makefile").read_text()
    for extras in re.findall(r'-e "\.\[([a-z,]+)\]"', makefile):
        assert set(extras.split(",")) <= set(PYPROJECT["optional-dependencies"])


def test_every_dependency_is_pinned_to_a_range():
    declared = PYPROJECT["dependencies"] + [
        r for rs in PYPROJECT["optional-dependencies"].values() for r in rs
    ]
    for line in declared:
        spec = Requirement(line).specifier
        assert any(s.operator in ("==", "<", "<=", "~=") for s in spec), (
            f"{line} has no upper bound"
        )


def test_default_install_pulls_no_torch_or_cuda():
    seen, todo = set(), [Requirement(r) for r in PYPROJECT["dependencies"]]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo.extend(Requirement(r) for r in metadata.requires(name) or [])
        except metadata.PackageNotFoundError:
            continue
    assert not {n for n in seen if n == "torch" or n.startswith("nvidia-")}, sorted(seen)
    assert "onnxruntime" in seen and "numpy" in seen


def test_committed_notebooks_carry_no_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 5
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        stale = [
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
        ]
        assert not stale, f"{path.name}: cells {stale} have outputs; clear them before committing"


def _imported_top_level_modules(folder: Path) -> set[str]:
    """Every absolute import in the package's source, at module level or inside a function."""
    import ast

    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared_distributions() -> set[str]:
    declared = PYPROJECT["dependencies"] + [
        r for rs in PYPROJECT["optional-dependencies"].values() for r in rs
    ]
    return {Requirement(r).name.lower().replace("_", "-") for r in declared}


def test_every_imported_package_is_a_declared_dependency():
    import sys

    provided_by = metadata.packages_distributions()
    declared = _declared_distributions()
    undeclared = {}
    for module in sorted(_imported_top_level_modules(ROOT / "smolrag_lab")):
        if module == "smolrag_lab" or module in sys.stdlib_module_names:
            continue
        distributions = {d.lower().replace("_", "-") for d in provided_by.get(module, [])}
        assert distributions, f"{module} is imported but no installed distribution provides it"
        if not distributions & declared:
            undeclared[module] = sorted(distributions)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_version_has_one_source():
    import smolrag_lab

    assert PYPROJECT["dynamic"] == ["version"] and "version" not in PYPROJECT
    assert metadata.version("smolrag_lab") == smolrag_lab.__version__


def test_importing_the_package_loads_no_heavy_dependency():
    """``import smolrag_lab`` stays fast: the engine, the openai SDK, networkx, ONNX Runtime and
    numpy load when first used, not at import."""
    import subprocess
    import sys
    from pathlib import Path

    import smolrag_lab

    code = (
        "import sys, smolrag_lab; assert smolrag_lab.__version__; "
        "print(sorted(m for m in ('openai', 'networkx', 'onnxruntime', 'numpy', 'bm25s', "
        "'tokenizers', 'smolrag_lab.engine') if m in sys.modules))"
    )
    root = str(Path(smolrag_lab.__file__).parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout.strip() == "[]"
    offline = "import smolrag_lab.engine, sys; print('openai' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", offline], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout.strip() == "False"


LOCK = ROOT / "requirements" / "lock.txt"


def locked_pins() -> dict[str, tuple[str, str]]:
    """Package name -> (pinned version, its block of the lock file with the hashes)."""
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text()):
        found = re.match(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;\\]+)", block)
        if found:
            pins[canonicalize_name(found.group(1))] = (found.group(2), block)
    return pins


def test_the_lock_pins_every_declared_dependency_within_its_range_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    locked_extras = re.search(r"^LOCK_EXTRAS\s*:=\s*(.+)$", makefile, re.MULTILINE).group(1)
    assert set(locked_extras.split()) == set(PYPROJECT["optional-dependencies"])
    assert "--require-hashes -r $(LOCK)" in makefile and "--no-deps -e ." in makefile
    assert not re.search(r'install --quiet -e "\.\[', makefile), "an install bypasses the lock"
    pins = locked_pins()
    declared = PYPROJECT["dependencies"] + [
        r for rs in PYPROJECT["optional-dependencies"].values() for r in rs
    ]
    stale = []
    for line in declared:
        req = Requirement(line)
        version = pins.get(canonicalize_name(req.name), (None,))[0]
        if version is None or not req.specifier.contains(version, prereleases=True):
            stale.append(f"{line} (locked: {version})")
    assert not stale, f"requirements/lock.txt is stale, run `make lock`: {stale}"
    unhashed = [name for name, (_, block) in pins.items() if "--hash=sha256:" not in block]
    assert len(pins) > 50 and not unhashed, unhashed
