"""AWS IAM: the roles CI assumes by OIDC."""
