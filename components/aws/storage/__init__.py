"""AWS storage components."""
