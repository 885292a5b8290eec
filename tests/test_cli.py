"""The `helpline` command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.servers import free_port


def _run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "HELPLINE_DATA_DIR": str(data_dir),
        "HELPLINE_PASSWORD_FAST_HASH": "true",
        **env,
    }
    full_env.pop("HELPLINE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "helpline", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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
            for _ in range(100):
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            r = http.post(
                "/api/v1/auth/login", json={"email": "zoe@example.com", "password": "long-enough-1"}
            )
            assert r.status_code == 200
            queues = http.get("/api/v1/queues").json()["items"]
            assert {q["name"] for q in queues} == {"General support", "Billing", "Technical"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
