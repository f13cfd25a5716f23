"""AWS eks components."""
