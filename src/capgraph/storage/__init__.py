"""Storage adapters implementing ``capgraph.ports.Store``."""
