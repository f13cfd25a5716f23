"""The platform-neutral model-serving vocabulary: the model, runtimes, rollout and probes."""
