"""Adapters of the programs the kubelet runs; the only modules that call them (design.md §5)."""
