"""The stack-file fuzzers' shared machinery (the tests are in tests/test_fuzz.py)."""
