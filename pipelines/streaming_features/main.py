"""Entry point of the streaming_features Flex Template (FLEX_TEMPLATE_PYTHON_PY_FILE) and of
local runs: `python -m streaming_features.main --inputSubscription ... --runner DirectRunner`."""
from streaming_features.pipeline import main

if __name__ == "__main__":
    main()
