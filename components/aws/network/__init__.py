"""AWS network components."""
