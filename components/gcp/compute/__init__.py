"""Compute Engine: machine types, disk types, regions and zones."""
