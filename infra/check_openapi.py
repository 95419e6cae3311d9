#!/usr/bin/env python3
"""Validates infra/openapi.json against the OpenAPI 3.1 specification (openapi-spec-validator).
The file itself is generated from the route table and checked by tests/tests/routes.rs."""
import json
import os
import sys

from openapi_spec_validator import validate

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "openapi.json")
with open(path) as f:
    doc = json.load(f)
validate(doc)
print(f"{path}: valid OpenAPI {doc['openapi']} ({sum(len(ops) for ops in doc['paths'].values())} operations)")
