"""`python -m assessment_asgi poll --tenants FILE`: every tenant's queue, one JSON line per event.

The file maps each tenant to its key pair, as JSON or TOML (by its `.toml` suffix):

```text
{"acme": {"api_key": "wc_ak_…", "secret_key": "wc_sk_…"}, "globex": {…}}
```

Each printed line is `{"tenant": …, "payload": <the event as sent>}`. Keys are never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._client import SmartAIClient
from ._credentials import Credentials
from ._models import Event
from ._supervisor import TenantPoller
from ._tenancy import check_tenant


def load_tenants(path: str) -> dict[str, Credentials]:
    """Tenant → `Credentials` from a JSON or TOML file (the message never quotes a value)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"tenants file {path}: cannot be read ({type(exc).__name__})") from None
    try:
        data: Any = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if file.suffix.lower() == ".toml" else "JSON"
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "see its syntax"
        raise ValueError(f"tenants file {path}: not valid {kind} ({where})") from None
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"tenants file {path}: expected a non-empty mapping of tenant to keys")
    tenants: dict[str, Credentials] = {}
    for tenant, keys in data.items():
        try:
            check_tenant(tenant)
        except ValueError:
            raise ValueError(f"tenants file {path}: {tenant!r} is not a usable tenant name") from None
        fields = keys if isinstance(keys, Mapping) else {}
        for name in ("api_key", "secret_key"):
            if not isinstance(fields.get(name), str) or not fields[name].strip():
                raise ValueError(f"tenants file {path}: tenant {tenant!r} needs a non-empty {name}")
        tenants[tenant] = Credentials(fields["api_key"], fields["secret_key"])
    return tenants


def _print(tenant: str, event: Event) -> None:
    line = {"tenant": tenant, "payload": event.payload()}
    sys.stdout.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def run_tenants(
    args: argparse.Namespace, client: SmartAIClient, tenants: dict[str, Credentials]
) -> int:
    handlers = dict.fromkeys(args.types, _print) if args.types else _print
    poller = TenantPoller(
        client, handlers, keys=tenants, interval=args.interval, limit=args.limit,
        ack_unhandled=not args.types, max_concurrent=args.max_concurrent, redis=args.redis_url,
    )
    try:
        if args.once:
            reports = await poller.drain()
            failed = sorted(set(tenants) - set(reports))
            if failed:
                print(f"error: not drained: {', '.join(failed)} (see the warnings above)", file=sys.stderr)
                return 1
            return 0
        await poller.run_until_signalled()
        return 0
    finally:
        await poller.aclose()
