"""The embedded SmartAI sandbox: the platform's wire contract, in memory, for development.

```python
from assessment_asgi.sandbox import SandboxApp

sandbox = SandboxApp()     # test keys generated: sandbox.credentials
```
"""

from __future__ import annotations

from ._app import SandboxApp, generate_test_credentials
from ._testing import RecordedRequest, RequestRecorder, ScriptedAnswer

__all__ = [
    "RecordedRequest",
    "RequestRecorder",
    "SandboxApp",
    "ScriptedAnswer",
    "generate_test_credentials",
]
