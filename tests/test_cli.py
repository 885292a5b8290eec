"""The `helpline` command, run as a user would."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from helpline import fdtable
from tests.fixtures.servers import free_port


def _env(data_dir: Path, **env: str) -> dict[str, str]:
    full_env = {
        **os.environ,
        "HELPLINE_DATA_DIR": str(data_dir),
        "HELPLINE_PASSWORD_FAST_HASH": "true",
        **env,
    }
    full_env.pop("HELPLINE_DATABASE_URL", None)
    return full_env


def _run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpline", *args],
        env=_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        umask=0o022,  # what a shell usually has: Helpline must not rely on a stricter one
    )


def _wait_ready(http: httpx.Client) -> None:
    for _ in range(200):
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not become ready")


def test_serve_refuses_an_unmigrated_database_with_the_fix(tmp_path: Path) -> None:
    r = _run(["serve"], tmp_path)
    assert r.returncode == 2
    assert "helpline migrate" in r.stderr


def test_migrate_demo_create_user_and_serve(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    demo = _run(["demo", "--if-empty"], tmp_path)
    assert demo.returncode == 0
    assert "admin@example.com" in demo.stdout and "helpline-demo" in demo.stdout
    again = _run(["demo", "--if-empty"], tmp_path)
    assert "earlier run" in again.stdout
    made = _run(
        [
            "create-user",
            "--email",
            "zoe@example.com",
            "--name",
            "Zoe",
            "--role",
            "agent",
            "--password",
            "long-enough-1",
        ],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    dup = _run(
        [
            "create-user",
            "--email",
            "zoe@example.com",
            "--name",
            "Zoe",
            "--role",
            "agent",
            "--password",
            "long-enough-1",
        ],
        tmp_path,
    )
    assert dup.returncode == 2 and "exists" in dup.stderr

    port = free_port()
    env = {**os.environ, "HELPLINE_DATA_DIR": str(tmp_path), "HELPLINE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpline", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert f"http://127.0.0.1:{port}" in lines[0]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            _wait_ready(http)
            # The serving process grew its descriptor table at start (decision 057).
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            if soft > 1024:  # with less, nothing is reserved
                status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                fdsize = int(next(x for x in status if x.startswith("FDSize:")).split()[1])
                assert fdsize >= min(soft, fdtable.RESERVE_CAP)
            r = http.post(
                "/api/v1/auth/login", json={"email": "zoe@example.com", "password": "long-enough-1"}
            )
            assert r.status_code == 200
            queues = http.get("/api/v1/queues").json()["items"]
            assert {q["name"] for q in queues} == {"General support", "Billing", "Technical"}
            # The demo shows a start form and tags, checked by the same rules as the admin's.
            fields = {q["name"]: [f["key"] for f in q["fields"]] for q in queues}
            assert fields == {
                "General support": [],
                "Billing": ["invoice"],
                "Technical": ["device"],
            }
            tags = {t["name"] for t in http.get("/api/v1/tags").json()["items"]}
            assert tags == {"Bug", "Feature request", "Refund", "VIP"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_data_files_are_private_from_the_start(tmp_path: Path) -> None:
    """As `make run` does (migrate, demo, serve) with a usual umask, then an upload: the data
    dir and every directory in it 0700, every file 0600, SQLite's -wal and -shm included."""
    data_dir = tmp_path / "var"
    env = _env(data_dir)
    assert "HELPLINE_SECRET_KEY" not in env  # so it is generated into the data dir
    for args in (["migrate"], ["demo", "--if-empty"]):
        r = _run(args, data_dir)
        assert r.returncode == 0, r.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpline", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        umask=0o022,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            _wait_ready(http)
            login = {"email": "customer1@example.com", "password": "helpline-demo"}
            token = http.post("/api/v1/auth/login", json=login).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            queue = http.get("/api/v1/queues", headers=auth).json()["items"][0]["id"]
            r = http.post("/api/v1/chats", json={"queue_id": queue, "message": "hi"}, headers=auth)
            assert r.status_code == 201, r.text
            chat = r.json()
            r = http.post(
                f"/api/v1/chats/{chat['id']}/files",
                files={"file": ("notes.txt", b"private words", "text/plain")},
                headers=auth,
            )
            assert r.status_code == 201, r.text

            names = {p.name for p in data_dir.iterdir()}
            assert {"helpline.db", "helpline.db-wal", "helpline.db-shm", "secret_key"} <= names
            uploads = [p for p in (data_dir / "files").rglob("*") if p.is_file()]
            assert len(uploads) == 1 and uploads[0].read_bytes() == b"private words"
            modes = {
                str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode))
                for p in [data_dir, *data_dir.rglob("*")]
            }
            wrong = {
                name: mode
                for name, mode in modes.items()
                if mode != ("0o700" if (tmp_path / name).is_dir() else "0o600")
            }
            assert wrong == {}, modes
    finally:
        proc.terminate()
        proc.wait(timeout=10)
