"""The Django project of docs/hosts.md, built from the page's own files and run with real Django.

Recruiters sign in through Django's login form (Django's session and CSRF), then create an
assessment session with nothing but Django's session cookie, on a real sandbox.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests._fake import API_KEY, SECRET_KEY, USERS
from tests._features import Sandbox, running_sandbox
from tests._servers import _wait_for_port, free_port
from tests.docs._pages import DOCS, ROOT, files, shell

PAGE = DOCS / "hosts.md"
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(record_requests=100) as running:
        yield running


@pytest.fixture(scope="module")
def django_site(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page's project on disk, migrated, with one user, served by uvicorn: its base URL."""
    project = tmp_path_factory.mktemp("django")
    for name, code in {**files(PAGE), "mysite/__init__.py": ""}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SECRET_KEY": "x" * 50,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "ASSESSMENT_BASE_URL": sandbox.platform_url, "ASSESSMENT_API_KEY": API_KEY,
           "ASSESSMENT_SECRET_KEY": SECRET_KEY, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    commands = shell(PAGE, "python -m django migrate").splitlines()
    migrate = next(c for c in commands if "django migrate" in c)
    create_user = next(c for c in commands if "createsuperuser" in c)
    serve_line = next(c for c in commands if c.startswith("uvicorn "))
    for command in (migrate, f"{create_user} --noinput --username rita --email rita@hire.example"):
        subprocess.run(["bash", "-c", command], cwd=project, env=env, check=True,
                       capture_output=True, timeout=120)
    port = free_port()
    with (project / "server.log").open("wb") as log:
        server = subprocess.Popen(["bash", "-c", f"exec {serve_line.replace('8000', str(port))}"],
                                  cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(20)


def sign_in(client: httpx2.Client, password: str = PASSWORD) -> httpx2.Response:
    form = client.get("/accounts/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    return client.post("/accounts/login/", data={
        "username": "rita", "password": password, "csrfmiddlewaretoken": csrf.group(1)})


@pytest.mark.slow
def test_a_recruiter_signed_in_with_djangos_session_creates_a_session(
    django_site: str, sandbox: Sandbox
) -> None:
    with httpx2.Client(base_url=django_site, timeout=30) as browser:
        assert sign_in(browser).status_code == 302
        assert "sessionid" in browser.cookies
        assert browser.get("/").text == "Signed in as rita"
        created = browser.post("/assessment/session", json={"users": USERS[:2]})
    assert created.status_code == 200, created.text
    assert set(created.json()["data"]) == {"token", "expiresAt"}
    (call,) = sandbox.app.recorder.to("/sessions", method="POST")
    assert call.json()["recruiterId"] == "1"
    assert call.json()["recruiterEmail"] == "rita@hire.example"


@pytest.mark.slow
def test_no_django_session_no_assessment_session(django_site: str, sandbox: Sandbox) -> None:
    sandbox.app.recorder.clear()
    with httpx2.Client(base_url=django_site, timeout=30) as stranger:
        anonymous = stranger.post("/assessment/session", json={"users": USERS[:1]})
        assert sign_in(stranger, password="wrong").status_code == 200  # the form again
        stranger.cookies.set("sessionid", "forged-session-key")
        forged = stranger.post("/assessment/session", json={"users": USERS[:1]})
    for answer in (anonymous, forged):
        assert answer.status_code == 401
        assert answer.json()["code"] == "unauthorized"
    assert sandbox.app.recorder.to("/sessions") == []
