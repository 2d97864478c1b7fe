"""`imagegate plugins` (what is installed, as `llm plugins` shows it) and
`imagegate plugins new NAME` (a package to start from)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.cli.conftest import REPO


def test_plugins_lists_each_plugin_with_its_hooks_providers_and_source(invoke):
    done = invoke("plugins")
    assert done.code == 0
    header, row = done.stdout.splitlines()
    assert header.split() == ["PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS", "PROVIDERS", "SOURCE"]
    assert row.split() == [
        "tests.fakes:plugin",
        "-",
        "-",
        "list_models,",
        "generate",
        "fake",
        "(2",
        "models)",
        "IMAGEGATE_PLUGINS",
    ]


def test_plugins_json_and_all_include_the_builtin_validation(invoke):
    plugins = json.loads(invoke("plugins", "--json", "--all").stdout)
    by_name = {p["name"]: p for p in plugins}
    assert by_name["imagegate.validation"] == {
        "name": "imagegate.validation",
        "source": "built-in",
        "distribution": None,
        "version": None,
        "hooks": ["validate"],
        "providers": {},
    }
    assert by_name["tests.fakes:plugin"]["providers"] == {"fake": 2}
    assert "imagegate.validation" not in invoke("plugins").stdout


def test_plugins_shows_an_installed_distribution_and_its_version():
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env.update(IMAGEGATE_LOAD_PLUGINS="gitee", IMAGEGATE_PLUGINS="imagegate_gitee")
    done = subprocess.run(
        [sys.executable, "-m", "imagegate.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=True,
    )
    assert done.stderr == ""  # installed and named in IMAGEGATE_PLUGINS: loaded once
    (gitee,) = json.loads(done.stdout)
    assert gitee["name"] == "gitee" and gitee["source"] == "entry point"
    assert (gitee["distribution"], gitee["version"]) == ("imagegate-gitee", "0.1.0")
    assert gitee["hooks"] == ["list_models", "generate"]
    assert gitee["providers"] == {"gitee": 7}


def test_plugins_new_writes_a_package_and_says_what_to_run(invoke, tmp_path):
    done = invoke("plugins", "new", "Acme-Cloud", "-d", str(tmp_path))
    assert done.code == 0, done.stderr
    package = tmp_path / "imagegate-acme-cloud"
    assert f"pip install -e '{package}[test]'" in done.stdout
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "src/imagegate_acme_cloud/__init__.py",
        "tests/test_acme_cloud.py",
    ]
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points.imagegate]\nacme-cloud = "imagegate_acme_cloud"' in pyproject
    assert 'version = "0.1.0"' in pyproject
    for source in (
        package / "src/imagegate_acme_cloud/__init__.py",
        package / "tests/test_acme_cloud.py",
    ):
        compile(source.read_text(), str(source), "exec")
    assert "IMAGEGATE_ACME_CLOUD_TOKEN" in (package / "README.md").read_text()


def test_plugins_new_in_the_current_directory_prints_a_pip_path(invoke):
    done = invoke("plugins", "new", "acme")
    assert done.code == 0
    assert "pip install -e './imagegate-acme[test]'" in done.stdout


def test_plugins_new_refuses_bad_names_first_party_names_and_existing_directories(invoke):
    bad = invoke("plugins", "new", "9 lives")
    assert bad.code == 2 and "not a usable plugin name" in bad.stderr
    taken = invoke("plugins", "new", "gitee")
    assert taken.code == 2 and "the provider of imagegate-gitee" in taken.stderr
    assert invoke("plugins", "new", "acme").code == 0
    again = invoke("plugins", "new", "imagegate-acme")
    assert again.code == 2 and "already exists" in again.stderr
