"""The `sanacloud` user commands as a user runs them: subprocesses against one `sanacloud up` for the
module, their output piped (plain text, no control characters) or on a pseudo-terminal (rich
progress); refusals print the API's reasons and exit non-zero; `--json` parses; `login` keeps the
key in a file only its owner can read; and the client commands work without the server's packages.
The whole flow (upload, fine-tune, watch, promote, serve, generate) is the README's tour
(tests/e2e/test_readme_tour.py)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import Image
from typer.core import TyperGroup

from sanacloud.cli.main import app
from tests.helpers.deadlines import Deadline, scaled
from tests.helpers.images import png
from tests.helpers.processes import SANACLOUD
from tests.helpers.sdk import LiveAPI, embedded_platform
from tests.helpers.services import free_port

pytestmark = pytest.mark.slow
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "celery", "kombu", "uvicorn", "minio", "PIL",
                  "torch", "psycopg", "pydantic_settings", "sanacloud.platform", "sanacloud.api",
                  "sanacloud.workers", "sanacloud.model")
WITHOUT_SERVER = f"import sys\nfor name in {SERVER_MODULES!r}:\n    sys.modules[name] = None  # import fails\n"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.stdout)


@dataclass(frozen=True)
class User:
    """A user's environment: the platform's URL, a key, and a config folder of their own."""

    env: dict[str, str]
    config_home: Path

    def run(self, *args: str, python: str | None = None, stdin: str = "", **env: str) -> Ran:
        argv = [sys.executable, "-c", python, *args] if python else [SANACLOUD, *args]
        done = subprocess.run(argv, env={**os.environ, **self.env, **env}, input=stdin, capture_output=True,
                              text=True, timeout=scaled(120))
        ran = Ran(done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, ran
        for text in (done.stdout, done.stderr):
            assert not CONTROL_CHARACTERS.search(text), f"control characters in piped output: {text!r}"
        return ran


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAPI]:
    with embedded_platform(tmp_path_factory.mktemp("up")) as live:
        yield live


@pytest.fixture
def user(platform: LiveAPI, tmp_path: Path) -> User:
    config_home = tmp_path / "config"
    return User({**platform.env, "SANACLOUD_BASE_URL": platform.url, "SANACLOUD_API_KEY": platform.api_key,
                 "XDG_CONFIG_HOME": str(config_home), "COLUMNS": "200"}, config_home)


@pytest.fixture(scope="module")
def dataset_id(platform: LiveAPI, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("squares")
    for index in range(3):
        (folder / f"{index}.png").write_bytes(png(color=(200, 30 * index, 30)))
        (folder / f"{index}.txt").write_text("a red square")
    user = User({**platform.env, "SANACLOUD_BASE_URL": platform.url, "SANACLOUD_API_KEY": platform.api_key}, folder)
    report = user.run("datasets", "upload", str(folder), "--name", "squares", "--json").json()
    assert report["accepted"] == 3 and report["rejected"] == [], report
    return str(report["dataset"]["id"])


def on_terminal(argv: list[str], env: dict[str, str], timeout_s: float = 120) -> tuple[int, str]:
    """Runs `argv` with stdin, stdout and stderr on a pseudo-terminal; its exit code and all it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, env={**os.environ, **env, "COLUMNS": "120", "TERM": "xterm"},
                               stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    output, deadline = b"", Deadline(timeout_s, f"{argv} on a terminal")
    while True:
        deadline.check(output.decode(errors="replace")[-2000:])
        ready, _, _ = select.select([leader], [], [], 0.2)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the terminal closed: the process has ended
            chunk = b""
        output += chunk
        if not chunk and process.poll() is not None:
            break
    os.close(leader)
    return process.wait(), output.decode(errors="replace")


def test_a_bad_upload_lists_each_rejected_file_with_its_reason_and_exits_1(user: User, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.png").write_bytes(png())
    (folder / "good.txt").write_text("a red square")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "cut.png").write_bytes(png()[:60])  # a PNG whose end is missing

    refused = user.run("datasets", "upload", str(folder), "--name", "mixed")
    assert refused.code == 1, refused
    rejected = dict(re.findall(r"^(broken\.png|cut\.png)\s+(.+)$", refused.stdout, re.MULTILINE))
    assert set(rejected) == {"broken.png", "cut.png"} and "not an image" in rejected["broken.png"], refused
    assert "nothing was stored" in refused.stderr and "HTTP 422" in refused.stderr, refused

    skipped = user.run("datasets", "upload", str(folder), "--name", "mixed", "--on-invalid", "skip", "--json").json()
    assert skipped["accepted"] == 1 and {each["name"] for each in skipped["rejected"]} == {"broken.png", "cut.png"}

    both = user.run("datasets", "upload", str(folder), "--name", "x", "--dataset", skipped["dataset"]["id"])
    assert both.code == 2 and "not both" in both.stderr, both


def test_a_bad_job_prints_the_reason_and_the_field_and_exits_1(user: User, dataset_id: str) -> None:
    no_steps = user.run("jobs", "create", "--dataset", dataset_id, "--base-model", "sana-tiny", "--steps", "0")
    assert no_steps.code == 1, no_steps
    assert "hyperparameters.steps" in no_steps.stderr and "greater than or equal to 1" in no_steps.stderr, no_steps

    unknown = user.run("jobs", "create", "--dataset", dataset_id, "--base-model", "sana-huge")
    assert unknown.code == 1 and "sana-huge" in unknown.stderr and "sana-tiny" in unknown.stderr, unknown

    spec = Path(user.config_home.parent / "spec.json")
    spec.write_text(json.dumps({"dataset_id": dataset_id, "base_model": "sana-tiny", "step": 3}))
    misspelt = user.run("jobs", "create", "--spec", str(spec))
    assert misspelt.code == 2 and "unknown field(s) step" in misspelt.stderr, misspelt


@pytest.mark.timeout(300)
def test_generate_saves_pngs_of_the_size_asked_and_a_queued_job_says_why_then_cancels(
        user: User, dataset_id: str, tmp_path: Path) -> None:
    endpoint = user.run("endpoints", "create", "base", "--model", "sana-tiny", "--idle-timeout", "600",
                        "--json").json()
    generated = user.run("generate", endpoint["id"], "a red square on a blue background", "--resolution", "64",
                         "--num-images", "2", "--steps", "4", "--seed", "3", "-o", str(tmp_path / "out"))
    assert generated.code == 0, generated
    paths = [Path(line) for line in generated.stdout.split()]
    assert len(paths) == 2 and all(Image.open(path).size == (64, 64) for path in paths), generated
    assert all(path.parent == tmp_path / "out" for path in paths)
    assert "seed 3, 4 steps" in generated.stderr and "denoise" in generated.stderr, generated

    # The warm endpoint holds the only GPU: this job waits, and its wait reason names the endpoint.
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps({"dataset_id": dataset_id, "base_model": "sana-tiny",
                                "hyperparameters": {"steps": 50, "batch_size": 2}}))
    job = user.run("jobs", "create", "--spec", str(spec), "--steps", "3", "--name", "queued", "--trigger", "zqx",
                   "--instance-prompt", "a photo of a shape", "--json").json()
    assert job["hyperparameters"]["steps"] == 3 and job["hyperparameters"]["batch_size"] == 2, job
    assert job["hyperparameters"]["trigger"] == "zqx" and job["hyperparameters"]["instance_prompt"] == \
        "a photo of a shape", job
    shown = user.run("jobs", "show", job["id"])
    assert shown.code == 0 and endpoint["id"] in shown.stdout and "queued" in shown.stdout, shown
    waited = user.run("jobs", "watch", job["id"], "--timeout", "1")
    assert waited.code == 5 and "still queued" in waited.stderr and endpoint["id"] in waited.stdout, waited

    paused = user.run("jobs", "pause", job["id"])
    assert paused.code == 0 and f"job {job['id']}: paused" in paused.stdout, paused
    watched = user.run("jobs", "watch", job["id"])
    assert watched.code == 6 and "paused" in watched.stdout.splitlines()[-1], watched
    extended = user.run("jobs", "extend", job["id"], "--steps", "5")
    assert extended.code == 0 and "paused, training to step 5" in extended.stdout, extended
    refused = user.run("jobs", "extend", job["id"], "--steps", "4")
    assert refused.code == 1 and "larger than the job's 5" in refused.stderr, refused
    assert user.run("jobs", "resume", job["id"], "--json").json()["status"] == "queued"

    assert user.run("jobs", "cancel", job["id"], "--json").json()["status"] == "cancelled"
    watched = user.run("jobs", "watch", job["id"])
    assert watched.code == 4 and "cancelled" in watched.stdout.splitlines()[-1], watched
    as_json = user.run("jobs", "watch", job["id"], "--json")
    assert as_json.code == 4 and json.loads(as_json.stdout)["status"] == "cancelled", as_json
    code, seen = on_terminal([SANACLOUD, "jobs", "watch", job["id"]], user.env)
    assert code == 4 and "\x1b[" in seen and "queued -> cancelled" in seen, seen
    events = user.run("jobs", "events", job["id"], "--type", "status", "--json").json()
    assert [event["payload"]["to"] for event in events] == ["queued", "paused", "queued", "cancelled"], events


def test_an_upload_on_a_terminal_shows_a_progress_bar_then_the_report(user: User, tmp_path: Path) -> None:
    (tmp_path / "one.png").write_bytes(png())
    code, seen = on_terminal([SANACLOUD, "datasets", "upload", str(tmp_path / "one.png"), "--name", "tty"], user.env)
    assert code == 0, seen
    assert "━" in seen and "uploading" in seen and "1 file accepted" in seen, seen


def test_login_checks_the_key_then_keeps_it_readable_by_its_owner_only(user: User, platform: LiveAPI) -> None:
    without_env = {"SANACLOUD_API_KEY": "", "SANACLOUD_BASE_URL": ""}
    wrong = user.run("login", "--url", platform.url, "--api-key", "sk_wrong", **without_env)
    assert wrong.code == 1 and "HTTP 401" in wrong.stderr, wrong
    config = user.config_home / "sanacloud" / "config.json"
    assert not config.exists()

    right = user.run("login", "--url", platform.url, stdin=f"{platform.api_key}\n", **without_env)  # a pipe
    assert right.code == 0 and str(config) in right.stdout, right
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": platform.url, "api_key": platform.api_key}

    assert isinstance(user.run("datasets", "list", "--json", **without_env).json(), list)  # the stored key
    overridden = user.run("datasets", "list", "--api-key", "sk_wrong", **without_env)
    assert overridden.code == 1 and "HTTP 401" in overridden.stderr, overridden


def test_a_tenant_admin_adds_a_member_whose_key_works_until_revoked(user: User) -> None:
    member = user.run("members", "add", "dev@example.com", "--json").json()
    created = user.run("keys", "create", "laptop", "--member", member["id"], "--json").json()
    as_dev = {"SANACLOUD_API_KEY": created["key"]}
    assert isinstance(user.run("datasets", "list", "--json", **as_dev).json(), list)
    listed = user.run("keys", "list")
    assert created["id"] in listed.stdout and created["key"] not in listed.stdout, listed
    assert user.run("keys", "revoke", created["id"], "--json").json()["revoked_at"]
    refused = user.run("datasets", "list", **as_dev)
    assert refused.code == 1 and "HTTP 401" in refused.stderr, refused


def test_an_unreachable_api_is_named(user: User) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ran = user.run("jobs", "list", "--url", url)
    assert ran.code == 1 and f"cannot reach the sanacloud API at {url}" in ran.stderr, ran


def test_piped_output_carries_no_control_characters_from_the_api(user: User) -> None:
    """A name with a terminal escape and a bell in it is shown without them; --json escapes them."""
    created = user.run("datasets", "create", "evil\x1b[2Jname\x07", "--json").json()
    for args in (("datasets", "list"), ("datasets", "show", created["id"])):
        ran = user.run(*args)  # `run` fails on a control character
        assert ran.code == 0 and "evil[2Jname" in ran.stdout, ran
    assert "evil\\u001b[2Jname\\u0007" in user.run("datasets", "show", created["id"], "--json").stdout
    assert user.run("datasets", "delete", created["id"]).code == 0


def test_the_client_commands_work_without_the_server_packages(user: User) -> None:
    listing = ("import json, typer\nfrom sanacloud.cli.main import app\ncommand = typer.main.get_command(app)\n"
               "admin = command.commands['admin']\n"
               "print(json.dumps({'root': sorted(command.commands), 'admin': sorted(admin.commands)}))")
    installed = typer.main.get_command(app)
    assert isinstance(installed, TyperGroup)
    admin = installed.commands["admin"]
    assert isinstance(admin, TyperGroup)
    # The same commands, listed in --help; those of the server say what to install.
    assert user.run(python=WITHOUT_SERVER + listing).json() == {"root": sorted(installed.commands),
                                                               "admin": sorted(admin.commands)}

    sanacloud = WITHOUT_SERVER + "sys.argv[0] = 'sanacloud'\nfrom sanacloud.cli.main import app\napp()"
    helped = user.run("--help", python=sanacloud)
    assert helped.code == 0 and "jobs" in helped.stdout and "pip install 'sanacloud[server]'" in helped.stdout
    assert isinstance(user.run("datasets", "list", "--json", python=sanacloud).json(), list)
    for command in (("up",), ("admin", "create-key", "--platform-admin")):
        refused = user.run(*command, python=sanacloud)
        assert refused.code == 2 and "pip install 'sanacloud[server]'" in refused.stderr, refused
