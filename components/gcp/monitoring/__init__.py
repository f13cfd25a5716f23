"""Cloud Monitoring: service-level objectives, burn-rate and GPU alerts, notification channels."""
