"""CI for a project of stacks: GitHub Actions workflows generated from the stack files, the
checks that keep them least-privileged and complete, and the identity setup they assume."""
