"""IAM: service accounts per workload and the members grants name."""
