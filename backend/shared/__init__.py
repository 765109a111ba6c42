"""Code shared by the backend's services."""
