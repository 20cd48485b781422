"""Local stand-ins for external services, faithful to their published contracts."""
