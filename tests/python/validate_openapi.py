"""Validates the OpenAPI document read on stdin as OpenAPI 3.1 with
openapi-spec-validator (installed by .ci/run); exits non-zero when invalid."""

import json
import sys

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

spec = json.load(sys.stdin)
if not str(spec.get("openapi", "")).startswith("3.1"):
    sys.exit(f"not OpenAPI 3.1: openapi = {spec.get('openapi')!r}")
validate(spec, cls=OpenAPIV31SpecValidator)
print(f"valid OpenAPI {spec['openapi']}: {len(spec['paths'])} paths")
