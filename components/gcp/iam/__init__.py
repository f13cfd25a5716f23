"""IAM: member strings and service-account ids."""
