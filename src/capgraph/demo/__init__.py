"""Demo data: manifests for real, well-known AI artifacts, written by this project."""
