"""The ``capgraph`` console commands."""
