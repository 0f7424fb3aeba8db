"""imurun.signal."""
