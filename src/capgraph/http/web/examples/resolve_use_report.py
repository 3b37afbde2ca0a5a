"""Resolve an intent, use the answer, report how it went (capgraph.client)."""

import os

from capgraph.client import Client

REGISTRY = os.environ.get("CAPGRAPH_URL", "http://127.0.0.1:8000")

with Client(REGISTRY) as registry:
    resolution = registry.resolve("extract tables from scanned invoices", risk="production")
    answer = resolution.best
    if answer is None:
        print("no confident match; closest:", [a["slug"] for a in resolution.alternatives])
    else:
        print(f"use {answer.name}: {answer.capability_name} "
              f"(confidence {answer.match_confidence})")
        print("invocation:", answer.invocation)
        worked = True  # call answer.invocation here and see whether it did the job
        result = registry.report(resolution, answer, "success" if worked else "failure")
        print("reported; counted:", result.counted)
