"""The deploy files: the Dockerfile linted with hadolint and its build and run commands exercised.

There is no Docker daemon where the tests run, so the image's two stages are played
here: the build stage's context (`COPY pyproject.toml README.md` and `exchange/`,
which `.dockerignore` must not exclude) is copied to a scratch directory and
`pip install .` is done the way the stage does it (isolated build), as a wheel; the wheel must carry
the migrations and the web page. The runtime stage's `CMD` then runs from that
installed wheel with the stage's `ENV` (HOST, PORT), and `/health` and `/ready` must
answer. The platform files are checked for what the platforms read.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.processes import ROOT, Process, environment, scratch_site

HADOLINT = Path(sys.executable).with_name("hadolint")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def pip(*args: str) -> None:
    """Run pip in this interpreter; it must succeed."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([str(HADOLINT), str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_is_two_stages_and_runs_the_procfile_command_unprivileged() -> None:
    steps = instructions()
    stages = [args for op, args in steps if op == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build") and "slim" in stages[1]
    runtime = steps[[i for i, (op, _) in enumerate(steps) if op == "FROM"][1] :]
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime
    user = next(args for op, args in runtime if op == "USER")
    assert not user.startswith(("0", "root"))
    assert json.loads(next(args for op, args in runtime if op == "CMD")) == ["exchange", "serve"]


def test_the_embedded_databases_directory_is_made_for_a_volume_and_the_readme_says_to_mount_it() -> None:
    steps = instructions()
    env = {k: v for op, args in steps if op == "ENV" for k, _, v in [i.partition("=") for i in shlex.split(args)]}
    data = env["EXCHANGE_DATA_DIR"]
    assert any(op == "RUN" and f"install -d -o exchange -g exchange {data}" in args for op, args in steps)
    assert f"-v exchange-data:{data}" in (ROOT / "README.md").read_text()


def test_the_image_build_and_run_commands_work(tmp_path: Path) -> None:
    steps = instructions()
    context = tmp_path / "src"
    context.mkdir()
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if not p.startswith("#")]
    for op, args in steps:
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = shlex.split(args)
            for source in sources:
                assert source not in ignored, f"{source} is copied but .dockerignore excludes it"
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy(path, context / source)
    assert any(op == "RUN" and args.endswith("pip install --no-cache-dir .") for op, args in steps)
    wheels = tmp_path / "wheels"
    pip("wheel", "--no-deps", "-w", str(wheels), str(context))
    (wheel,) = wheels.glob("exchange-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("exchange/persistence/migrations/versions/0001") for n in names)
    assert "exchange/persistence/migrations/env.py" in names
    assert any(n.startswith("exchange/web/static/") for n in names)
    site = tmp_path / "site"
    pip("install", "--no-deps", "--target", str(site), str(wheel))

    env_lines = dict(
        item.split("=", 1) for op, args in steps if op == "ENV" for item in shlex.split(args) if "=" in item
    )
    with scratch_site("exchange_ops") as (port, url, database_url):
        env = environment(
            HOST=env_lines["HOST"],
            PORT=str(port),
            DATABASE_URL=database_url,
            PYTHONPATH=str(site),
            EXCHANGE_LOG_FORMAT=env_lines["EXCHANGE_LOG_FORMAT"],
        )
        where = [sys.executable, "-c", "import exchange; print(exchange.__file__)"]
        located = subprocess.run(where, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert located.stdout.startswith(str(site)), located
        command = [sys.executable, "-c", "from exchange.cli import main; main()", "serve"]
        server = Process(command, env, tmp_path / "image.log", cwd=tmp_path)
        try:
            server.wait_http(f"{url}/ready")
            assert server.popen.poll() is None
        finally:
            assert server.terminate() == 0, server.output()


def test_the_platform_files_run_migrations_before_the_web_process() -> None:
    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["build"]["builder"] == "DOCKERFILE"
    assert railway["deploy"]["preDeployCommand"] == ["exchange db upgrade"]
    assert railway["deploy"]["healthcheckPath"] == "/ready"
    heroku = json.loads((ROOT / "app.json").read_text())
    assert any(addon["plan"].startswith("heroku-postgresql") for addon in heroku["addons"])
    assert heroku["env"]["EXCHANGE_DEMO"]["value"] == "true"
    assert (ROOT / "requirements.txt").read_text().split() == ["."]
