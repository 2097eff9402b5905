"""Node-side services. Nothing here imports the operator tool (see pyproject import-linter contracts)."""
