"""The cost before the deploy: a monthly estimate of a plan from its recorded inputs and a
vendored, dated price table (prices.py), under the stack's usage assumptions (spec.py)."""
