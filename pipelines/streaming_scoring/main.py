"""Entry point of the streaming_scoring Flex Template (FLEX_TEMPLATE_PYTHON_PY_FILE) and of
local runs: `python -m streaming_scoring.main --inputSubscription ... --runner DirectRunner`."""
from streaming_scoring.pipeline import main

if __name__ == "__main__":
    main()
