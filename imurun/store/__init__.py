"""imurun.store."""
