"""provision: declarative clusters of a readable Python Kubernetes."""
