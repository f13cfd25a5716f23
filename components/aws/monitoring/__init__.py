"""AWS monitoring components: the stack's alert topic and the model servers' burn-rate alarms."""
