"""Cloud Functions (gen2): event-driven triggers and the set a stack shares."""
