"""environment.yml cannot be exercised here (no conda channel): check it names what pyproject does."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_installs_the_project_with_dev_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip_section == ["-e .[dev]"]


def test_environment_yml_comment_lists_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["dev"] + extras["book"]}
    listed = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("#   "):
            listed |= {_name(tok) for tok in line[1:].replace("|", " ").replace("dev:", " ").replace("book:", " ").split() if tok}
    assert listed == wanted


def test_torch_ranges_admit_the_local_wheels():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(d for d in deps if _name(d) == "torch")
    tv_req = next(d for d in deps if _name(d) == "torchvision")
    assert torch_req == "torch>=2.4,<2.15" and tv_req == "torchvision>=0.19,<0.30"
