"""Entry point of the batch_scoring Flex Template (FLEX_TEMPLATE_PYTHON_PY_FILE) and of local
runs: `python -m batch_scoring.main --inputPattern ... --runner DirectRunner`."""
from batch_scoring.pipeline import main

if __name__ == "__main__":
    main()
