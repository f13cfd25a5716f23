"""Pieces both reference pipelines share: parsing with a dead-letter output, the Flex Template
parameter contract, and the BigQuery sinks. Lives beside the pipelines (not in a package on
PyPI) so one `COPY` puts it into each template image."""
