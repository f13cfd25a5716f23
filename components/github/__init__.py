"""GitHub repository settings as components: deployment environments, branch rulesets, variables."""
