"""VPC networking: the stack's network, subnet, NAT and firewall."""
