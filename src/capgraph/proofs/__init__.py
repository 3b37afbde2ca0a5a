"""Claim proofs over the network: bounded, safe HTTP fetches and DNS TXT look-ups."""
