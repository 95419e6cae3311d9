#!/usr/bin/env python3
"""Proves infra/template.yaml deploys as far as it can be proven offline: runs SAM's own
transform (aws-sam-translator, what CloudFormation runs for `Transform: AWS::Serverless`)
and cfn-lint on the transformed template, then cfn-lint with the serverless rules on the
source. Exit 1 with the translator's or cfn-lint's messages on failure.

    python3 infra/check_template.py [infra/template.yaml]
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only for policy names it must resolve;
    this template names none, so nothing is looked up (no AWS credentials needed)."""

    def load(self, *args, **kwargs):
        return {}


def main() -> int:
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "template.yaml")
    with open(src) as f:
        template = yaml_parse(f.read())
    # As `sam package` does before the transform: local code becomes an S3 object.
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3://"):
            props["CodeUri"] = "s3://packaged-code/function.zip"
    try:
        transformed = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"SAM transform: {cause.message}", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(transformed, out)
    lint = subprocess.run(["cfn-lint", out.name], capture_output=True, text=True)
    os.unlink(out.name)
    if lint.returncode != 0:
        print("cfn-lint on the transformed template:\n" + lint.stdout + lint.stderr, file=sys.stderr)
        return 1
    serverless = subprocess.run(["cfn-lint", src, "-a", "cfn_lint_serverless.rules"], capture_output=True, text=True)
    if serverless.returncode != 0:
        print("cfn-lint (serverless rules):\n" + serverless.stdout + serverless.stderr, file=sys.stderr)
        return 1
    print(f"{src}: SAM transform ok ({len(transformed['Resources'])} resources), cfn-lint clean before and after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
