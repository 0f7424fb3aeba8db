"""imurun.testing."""
