"""The official SARIF 2.1.0 JSON schema, and a validator for it with URI format checks.

tests/data/sarif-schema-2.1.0.json is the OASIS schema, byte for byte as published in the
oasis-tcs/sarif-spec repository (Schemata/sarif-schema-2.1.0.json, commit
0a8091f7d4057e57b6d8d9b56129e5f918747b34; its `id` is
https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json;
112768 bytes, sha256 ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from jsonschema import Draft4Validator, FormatChecker

SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
SHA256 = "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"

# RFC 3986 §3 and §4.1: the characters a URI may hold; percent signs only as %XX.
_URI_CHARS = r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:" + _URI_CHARS)
_URI_REFERENCE = re.compile(_URI_CHARS)


def validator() -> Draft4Validator:
    """A draft-04 validator for the schema that also checks `uri` and `uri-reference`
    (jsonschema skips those formats unless optional packages are installed)."""
    data = SCHEMA.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256, "schema file was altered"
    checker = FormatChecker()
    checker.checks("uri")(lambda value: not isinstance(value, str) or bool(_URI.fullmatch(value)))
    checker.checks("uri-reference")(
        lambda value: not isinstance(value, str) or bool(_URI_REFERENCE.fullmatch(value))
    )
    return Draft4Validator(json.loads(data), format_checker=checker)
