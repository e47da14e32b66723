"""`python -m assessment_asgi doctor`: check a configuration and say how to fix it.

Builds what `AssessmentApp()` builds from the environment and `.env` — the same check,
so a value the app refuses is a FAIL here with the same message — and adds what only a
check of the whole machine can see: missing or mismatched keys, a secret in a
browser-exposed variable, no recruiter authentication, no base URL, an unreachable platform.
Each problem is one line with its fix. Values are never printed: only variable names.
Exit status 0 when all is well, else 1.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import anyio
import httpx2

from ._app import AssessmentApp
from ._doctor_outcome import call_outcome
from ._doctor_tenants import check_tenant_keys
from ._exceptions import ConfigurationError
from ._settings import AssessmentSettings, env_sources
from .platform import Credentials, SmartAIClient, SmartAIError
from .platform._credentials import TEST_KEY_PREFIX, TEST_SECRET_PREFIX

Status = Literal["ok", "warn", "FAIL", "info"]

API_KEY = "ASSESSMENT_API_KEY"
SECRET_KEY = "ASSESSMENT_SECRET_KEY"  # noqa: S105 - a variable name
JWT_SECRET = "ASSESSMENT_JWT_SECRET"  # noqa: S105 - a variable name
BASE_URL = "ASSESSMENT_BASE_URL"
AUTH_VARS = (JWT_SECRET, "ASSESSMENT_JWKS_URL", "ASSESSMENT_OIDC_ISSUER")

# Variables that frontend build tools compile into the JavaScript sent to every browser.
BROWSER_PREFIXES = (
    "NEXT_PUBLIC_", "VITE_", "REACT_APP_", "NUXT_PUBLIC_", "NUXT_ENV_", "PUBLIC_", "EXPO_PUBLIC_",
    "GATSBY_", "VUE_APP_", "STORYBOOK_", "SNOWPACK_PUBLIC_", "NG_APP_", "REDWOOD_ENV_",
)
# The files those tools read, besides .env itself.
FRONTEND_ENV_FILES = (
    ".env", ".env.local", ".env.development", ".env.development.local",
    ".env.production", ".env.production.local",
)
_REACH_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"  {self.status:<5} {self.message}"
        return f"{text}. Fix: {self.fix}" if self.fix else text


@dataclass
class Config:
    """The `ASSESSMENT_*` values as `AssessmentApp()` would see them, and where from."""

    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    browser_vars: list[tuple[str, str, str]] = field(default_factory=list)  # name, source, value

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _load(env_file: Path) -> Config:
    config = Config()
    # Read by the settings module, the one reader of the environment and .env files.
    scanned = env_sources(env_file, also=FRONTEND_ENV_FILES)
    # Precedence as in pydantic-settings: the environment wins over .env.
    for source, variables in (scanned[0], scanned[-1]):
        for name, value in variables.items():
            if name.upper().startswith("ASSESSMENT_"):
                config.values[name.upper()] = value
                config.sources[name.upper()] = source
    for source, variables in scanned:
        for name, value in variables.items():
            if name.upper().startswith(BROWSER_PREFIXES) and value:
                config.browser_vars.append((name, source, value))
    return config


# ── checks ───────────────────────────────────────────────────────────────────────


def check_settings(env_file: Path, base_url: str | None = None) -> list[Finding]:
    """`AssessmentApp()`'s own construction check: one FAIL per problem it finds."""
    overrides = {"base_url": base_url} if base_url else {}
    try:
        AssessmentApp(settings=AssessmentSettings(_env_file=env_file, **overrides))
    except ConfigurationError as exc:
        return [
            Finding(
                "FAIL",
                message.replace(BASE_URL, "--base-url") if base_url and setting == BASE_URL
                else message,
                f"correct {setting} (see the Configuration table in docs/configuration.md)",
            )
            for setting, message in exc.problems
        ]
    return []


def check_keys(config: Config, *, sandbox: bool) -> list[Finding]:
    api, secret = config.get(API_KEY), config.get(SECRET_KEY)
    findings: list[Finding] = []
    for name, value, looks in ((API_KEY, api, "wc_ak_…"), (SECRET_KEY, secret, "wc_sk_…")):
        if not value:
            if sandbox:
                findings.append(Finding(
                    "info", f"{name} is not set: the sandbox check uses a generated test pair"
                ))
            else:
                findings.append(Finding(
                    "FAIL", f"{name} is not set",
                    f"copy it ({looks}) from the SmartAI dashboard into the server's environment "
                    "or .env (server side only)",
                ))
        elif value[:1] in "\"'" or value[-1:] in "\"'":  # whitespace: the settings check's
            findings.append(Finding(
                "FAIL", f"{name} has surrounding quotes ({config.sources[name]})",
                "remove them: the platform compares the key exactly",
            ))
    if not api or not secret:
        return findings
    api, secret = api.strip().strip("\"'"), secret.strip().strip("\"'")
    if api == secret:
        findings.append(Finding(
            "FAIL", f"{API_KEY} and {SECRET_KEY} are the same value",
            "copy the two different keys from the SmartAI dashboard",
        ))
        return findings
    if api.startswith("wc_sk_") or secret.startswith("wc_ak_"):
        findings.append(Finding(
            "FAIL", f"{API_KEY} and {SECRET_KEY} look swapped",
            f"put the wc_ak_… key in {API_KEY} and the wc_sk_… key in {SECRET_KEY}",
        ))
        return findings
    api_test, secret_test = api.startswith(TEST_KEY_PREFIX), secret.startswith(TEST_SECRET_PREFIX)
    if api_test != secret_test:
        test_name, live_name = (API_KEY, SECRET_KEY) if api_test else (SECRET_KEY, API_KEY)
        findings.append(Finding(
            "FAIL", f"{test_name} is a test key but {live_name} is a live key",
            "use both keys of the same environment from the SmartAI dashboard "
            f"({TEST_KEY_PREFIX}… with {TEST_SECRET_PREFIX}…, or both live)",
        ))
    elif api_test:
        findings.append(Finding("ok", "test keys (wc_ak_test_/wc_sk_test_): no real emails are sent"))
    elif sandbox:
        findings.append(Finding(
            "FAIL", "live keys are set, and the sandbox accepts test keys only",
            "run --sandbox with test keys (or none): never give live keys to the sandbox",
        ))
    else:
        findings.append(Finding("ok", "live keys: candidates receive real emails"))
    return findings


def check_exposure(config: Config) -> list[Finding]:
    secrets_ = {
        value for value in (config.get(SECRET_KEY), config.get(JWT_SECRET)) if value
    }
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for name, source, value in config.browser_vars:
        leaked = value.strip() in secrets_ or value.strip().startswith("wc_sk_") or (
            "SECRET" in name.upper() and "ASSESSMENT" in name.upper()
        )
        if leaked and (name, source) not in seen:
            seen.add((name, source))
            prefix = next(p for p in BROWSER_PREFIXES if name.upper().startswith(p))
            findings.append(Finding(
                "FAIL",
                f"{name} (in {source}) holds a secret, and frontend builds send "
                f"{prefix}* variables to every browser",
                f"delete it and rotate the secret in the dashboard; the browser only needs the "
                f"public key (NEXT_PUBLIC_ASSESSMENT_API_KEY); keep {SECRET_KEY} on the server",
            ))
    if not findings:
        findings.append(Finding(
            "ok", "no secret in a browser-exposed variable (NEXT_PUBLIC_*, VITE_*, REACT_APP_*, …)"
        ))
    return findings


def check_auth(config: Config, *, settings_ok: bool) -> list[Finding]:
    configured = [name for name in AUTH_VARS if config.get(name).strip()]
    if not configured:
        return [Finding(
            "FAIL", "recruiter authentication is not configured, so the endpoint refuses every call",
            f"set {JWT_SECRET} (the 32+ byte secret your login signs HS256 recruiter tokens "
            "with), or ASSESSMENT_JWKS_URL / ASSESSMENT_OIDC_ISSUER, or pass authenticate=",
        )]
    if not settings_ok:
        return []  # check_settings has named the problem
    jwt_secret = config.get(JWT_SECRET)
    if jwt_secret and jwt_secret in {config.get(SECRET_KEY), config.get(API_KEY)}:
        return [Finding(
            "FAIL", f"{JWT_SECRET} is one of the platform keys",
            "use a separate random secret for recruiter tokens (e.g. python -c "
            "'import secrets; print(secrets.token_urlsafe(48))')",
        )]
    return [Finding("ok", f"recruiter authentication: {configured[0]}")]


def shown(url: str) -> str:
    """Scheme, host, port and path: never anything that could carry a credential."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def check_base_url(url: str, *, given: bool) -> list[Finding]:
    """What the settings check allows but a user may still want to know (it ran first)."""
    source = "--base-url" if given else BASE_URL
    findings = [Finding("ok", f"{source}: {shown(url)}")]
    if not urlsplit(url).path.rstrip("/").endswith("/api/v1"):
        findings.append(Finding(
            "warn", f"{source} does not end in /api/v1",
            "the platform's base URL includes the /api/v1 prefix",
        ))
    return findings


async def _probe(url: str, credentials: Credentials | None, source: str = BASE_URL) -> list[Finding]:
    findings: list[Finding] = []
    try:
        async with httpx2.AsyncClient(timeout=_REACH_TIMEOUT, follow_redirects=False) as http:
            response = await http.get(url)
    except httpx2.HTTPError as exc:
        return [Finding(
            "FAIL", f"cannot reach {shown(url)} ({type(exc).__name__})",
            "check the URL, DNS, firewall and proxy settings (HTTPS_PROXY), or try --sandbox",
        )]
    findings.append(Finding("ok", f"reachable: {shown(url)} answered HTTP {response.status_code}"))
    if credentials is None:
        return findings
    # A signed, read-only call: proves both keys without creating anything.
    async with SmartAIClient(base_url=url, timeout=_REACH_TIMEOUT, retry=1) as client:
        try:
            await client.list_assessments(credentials=credentials)
        except SmartAIError as exc:
            findings.append(Finding(*call_outcome(exc, shown(url), source)))
        else:
            findings.append(Finding("ok", "the platform accepted the keys (signed read-only call)"))
    return findings


async def _sandbox_round_trip(credentials: Credentials | None) -> list[Finding]:
    from .sandbox import SandboxApp

    try:
        sandbox = SandboxApp(credentials=credentials)
    except ValueError:
        return []  # live keys: already reported by check_keys
    async with SmartAIClient(
        base_url=SandboxApp.platform_url("http://sandbox.invalid"),
        transport=httpx2.ASGITransport(app=sandbox),
        retry=1,
    ) as client:
        try:
            token = await client.create_session(
                users=[{"name": "Doctor Check", "email": "doctor@example.com"}],
                recruiter_email="doctor@example.com",
                credentials=sandbox.credentials,
            )
        except SmartAIError as exc:
            return [Finding(
                "FAIL", f"sandbox round trip failed: {type(exc).__name__} (HTTP {exc.status_code})",
                "report this as a bug in assessment-asgi",
            )]
    return [Finding(
        "ok", f"sandbox round trip: create-session answered a token (expires {token.expires_at})"
    )]


# ── command line ─────────────────────────────────────────────────────────────────


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assessment_asgi doctor",
        description=(
            "Check the configuration AssessmentApp() would use (the environment, then .env): "
            "keys, browser exposure, recruiter authentication, base URL, reachability. "
            "Prints variable names, never values. Exit status 0 when all is well, else 1."
        ),
    )
    parser.add_argument(
        "--base-url", metavar="URL",
        help="check this platform base URL (…/api/v1) instead of ASSESSMENT_BASE_URL",
    )
    parser.add_argument(
        "--sandbox", action="store_true",
        help="check against an in-process embedded sandbox: a create-session round trip with "
        "the configured test keys (or a generated pair); no base URL needed",
    )
    parser.add_argument(
        "--offline", action="store_true", help="skip the network check of the base URL",
    )
    parser.add_argument(
        "--env-file", default=".env", metavar="PATH", help="the .env file to read (default .env)",
    )
    return parser


def run(argv: Sequence[str]) -> tuple[int, list[str]]:
    """The checks, as (exit status, output lines)."""
    args = _parser().parse_args(list(argv))
    env_file = Path(args.env_file)
    config = _load(env_file)
    findings = check_settings(env_file, args.base_url)
    settings_ok = not findings
    url_ok = not any(BASE_URL in f.fix for f in findings)
    tenant_file = config.get("ASSESSMENT_TENANT_KEYS_FILE").strip()  # keys per tenant instead
    findings += [] if tenant_file else check_keys(config, sandbox=args.sandbox)
    findings += check_exposure(config)
    findings += check_auth(config, settings_ok=settings_ok)

    url = (args.base_url or config.get(BASE_URL)).strip().rstrip("/")
    url_ok = url_ok and bool(url)
    if url:
        if url_ok:
            findings += check_base_url(url, given=bool(args.base_url))
    elif args.sandbox:
        findings.append(Finding("info", f"{BASE_URL} is not set: --sandbox does not need it"))
    else:
        findings.append(Finding(
            "FAIL", f"{BASE_URL} is not set",
            "set it to the platform base including /api/v1, or try everything first with "
            "python -m assessment_asgi doctor --sandbox",
        ))

    api, secret = config.get(API_KEY), config.get(SECRET_KEY)
    usable = api and secret and not any(f.status == "FAIL" for f in check_keys(config, sandbox=False))
    credentials = None
    if usable:
        with contextlib.suppress(ConfigurationError):  # a key no request could carry: named above
            credentials = Credentials(api, secret)
    if args.sandbox:
        findings += anyio.run(_sandbox_round_trip, credentials)
    if url_ok and not args.offline:
        findings += anyio.run(_probe, url, credentials, "--base-url" if args.base_url else BASE_URL)
    if tenant_file and settings_ok:
        reach = url_ok and not args.offline
        findings += [Finding(*f) for f in check_tenant_keys(
            tenant_file, url, timeout=_REACH_TIMEOUT, reach=reach)]

    problems = sum(f.status == "FAIL" for f in findings)
    sources = f"the environment and {env_file}" if env_file.is_file() else "the environment"
    lines = [f"assessment-asgi doctor: checking {sources}", ""]
    lines += [f.line() for f in findings]
    lines.append("")
    if problems:
        lines.append(f"{problems} problem{'s' if problems != 1 else ''} found.")
    else:
        lines.append("All good.")
    return (1 if problems else 0), lines


def main(argv: Sequence[str]) -> int:
    # doctor reports every finding itself, one line with its fix; the package's own log lines
    # (e.g. the client's warning on a refused key) would only repeat them on stderr.
    logging.getLogger("assessment_asgi").addHandler(logging.NullHandler())
    logging.getLogger("assessment_asgi").propagate = False
    status, lines = run(argv)
    print("\n".join(lines), file=sys.stdout)
    return status
