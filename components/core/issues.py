from components.validation import Issue, one_of  # noqa: F401
