"""schemathesis hooks for tests/integration/test_openapi_fuzz.py (loaded with SCHEMATHESIS_HOOKS):
a 5xx is a failure unless the operation documents it (`/readyz` answers 503 when not ready);
a 500 always is."""

from __future__ import annotations

import schemathesis


@schemathesis.check
def no_undocumented_server_error(ctx, response, case) -> None:
    status = response.status_code
    documented = {str(code) for code in case.operation.definition.raw.get("responses", {})}
    if status == 500 or (status >= 500 and str(status) not in documented):
        raise AssertionError(f"{case.method} {case.formatted_path}: {status} not documented\n{response.text[:500]}")
