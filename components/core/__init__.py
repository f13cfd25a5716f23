"""What every component shares: issues that name a key, and the format rules of names, images and schedules."""
