#!/usr/bin/env python3
"""Validate EPCIS 2.0 JSON documents against GS1's JSON Schema, with a validator written
elsewhere (Python `jsonschema`, installed by scripts/setup.sh into .venv).

Reads a JSON array of {"name": ..., "document": <EPCIS JSON object>} on stdin; prints one line per
document that fails (name, JSON path, message) and exits 1 if any fails, 0 when all pass.
The schema path is the first argument (default: ../shared/testdata/epcis/spec/EPCIS-JSON-Schema.json
next to the repository).
"""
import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parent.parent
schema_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/testdata/epcis/spec/EPCIS-JSON-Schema.json"
schema = json.loads(schema_path.read_text())
Validator = jsonschema.validators.validator_for(schema)
Validator.check_schema(schema)
validator = Validator(schema, format_checker=Validator.FORMAT_CHECKER)

docs = json.load(sys.stdin)
failed = 0
for d in docs:
    errors = sorted(validator.iter_errors(d["document"]), key=lambda e: list(e.absolute_path))
    if errors:
        failed += 1
        for e in errors[:5]:
            path = "/".join(str(p) for p in e.absolute_path)
            print(f"{d['name']}: /{path}: {e.message[:300]}")
print(f"{len(docs) - failed} of {len(docs)} documents valid against {schema_path.name}", file=sys.stderr)
sys.exit(1 if failed else 0)
