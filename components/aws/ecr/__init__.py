"""AWS ecr components."""
