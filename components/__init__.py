"""Reusable Pulumi components for ML systems.

Each module holds one component (or one body of pure rules) and imports only the provider
submodules it uses, so a program pays only for the pattern it builds.
"""
