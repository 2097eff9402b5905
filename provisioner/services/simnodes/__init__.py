"""Simulated nodes (like kwok): Nodes with Lease heartbeats whose bound pods go Pending → Running, no machines."""
