"""The mlinfra Pulumi program (`__main__.py`), its stack-file schema and its CLI."""
