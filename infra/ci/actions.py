"""The actions and runner every generated workflow uses, pinned in one place.

Pinned: a major tag is what these actions publish for consumers and what actionlint knows; the
Pulumi CLI itself is pinned to the SDK version of requirements.txt.
"""

CHECKOUT = "actions/checkout@v6"
SETUP_PYTHON = "actions/setup-python@v6"
SETUP_NODE = "actions/setup-node@v6"
UPLOAD = "actions/upload-artifact@v7"
DOWNLOAD = "actions/download-artifact@v8"
SCRIPT = "actions/github-script@v8"
AUTH = "google-github-actions/auth@v3"
AWS_AUTH = "aws-actions/configure-aws-credentials@v6"
PULUMI = "pulumi/actions@v7"
RUNNER = "ubuntu-24.04"
PYTHON_VERSION = "3.11"
NODE_VERSION = "20"
