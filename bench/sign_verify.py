"""Per-passport cost of canonicalisation, hashing, Ed25519 sign/verify and verify_passport.

The seed passports are read from ../shared/seeds (or --seeds DIR) at run time. They are signed
by another registry whose public key is not here, so each one is re-signed with a freshly
generated capgraph key (``keyId`` set to its thumbprint), which is what ``import`` does too;
the bytes canonicalised and signed are the seed's own. Every operation is timed one call at a
time over ``-n`` iterations; the table shows the wall-clock median and 99th percentile in
microseconds, and the median thread CPU time (which other processes on the cores disturb less).

Usage: .venv/bin/python bench/sign_verify.py [-n 3000] [--seeds DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cryptography
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from capgraph.core.canonical import canonical_bytes
from capgraph.core.signing import SigningKey, signed_bytes, verify_passport

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = ROOT.parent / "shared" / "seeds"
CREATED_AT = "2020-01-01T00:00:00.000Z"  # before every seed's signedAt: inside the window


def measure(fn: Callable[[], object], n: int) -> dict[str, float]:
    for _ in range(min(50, n)):  # warm-up
        fn()
    samples = []
    cpu_samples = []
    clock = time.perf_counter_ns
    cpu_clock = time.thread_time_ns
    for _ in range(n):
        c0 = cpu_clock()
        t0 = clock()
        fn()
        t1 = clock()
        cpu_samples.append(cpu_clock() - c0)
        samples.append(t1 - t0)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples) / 1e3, 2),
        "p99_us": round(samples[min(n - 1, int(n * 0.99))] / 1e3, 2),
        "cpu_median_us": round(statistics.median(cpu_samples) / 1e3, 2),
    }


def bench_passport(path: Path, key: SigningKey, n: int) -> dict[str, Any]:
    document = json.loads(path.read_text())
    passport = dict(document.get("passport", document))
    passport["keyId"] = key.kid
    passport.pop("signature", None)
    payload = signed_bytes(passport)
    passport["signature"] = key.sign(passport)
    raw_sig = base64.b64decode(passport["signature"])
    public = Ed25519PublicKey.from_public_bytes(key.public.raw)
    keys = {key.kid: key.public}
    stored = json.dumps(document, separators=(",", ":")).encode()
    private = key._private  # the primitive alone, without canonicalisation and base64
    assert verify_passport(passport, keys) is key.public  # raises if it does not verify

    ops: dict[str, Callable[[], object]] = {
        "json.loads (stored envelope bytes)": lambda: json.loads(stored),
        "canonicalise: rfc8785.dumps(passport)": lambda: rfc8785.dumps(passport),
        "canonicalise: signed_bytes(passport)": lambda: signed_bytes(passport),
        "sha256(canonical bytes)": lambda: hashlib.sha256(payload).digest(),
        "Ed25519 sign (bytes only)": lambda: private.sign(payload),
        "SigningKey.sign (canonicalise+sign+b64)": lambda: key.sign(passport),
        "Ed25519 verify (bytes only)": lambda: public.verify(raw_sig, payload),
        "verify_passport (full)": lambda: verify_passport(passport, keys),
    }
    rows = {name: measure(fn, n) for name, fn in ops.items()}
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "canonical_bytes": len(payload),
        "ops": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="iterations per operation")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    paths = sorted(args.seeds.glob("*.passport.json"))
    if not paths:
        sys.exit(f"no *.passport.json in {args.seeds}")
    key = SigningKey.generate(created_at=CREATED_AT)
    pem = key.to_pem()
    results: dict[str, Any] = {
        "config": {"n": args.n, "python": platform.python_version(),
                   "cryptography": cryptography.__version__,
                   "rfc8785": getattr(rfc8785, "__version__", "?")},
        "passports": [bench_passport(p, key, args.n) for p in paths],
        "per_key": {
            "SigningKey.from_pem (done by FileKeyStore.signing_key on every publish)":
                measure(lambda: SigningKey.from_pem(pem, created_at=CREATED_AT), args.n),
        },
    }
    assert canonical_bytes({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    print(f"sign/verify per passport, {args.n} iterations, python {platform.python_version()}, "
          f"cryptography {cryptography.__version__}")
    for entry in results["passports"]:
        print(f"\n{entry['file']} ({entry['file_bytes']} B file, "
              f"{entry['canonical_bytes']} B canonical)")
        print(f"  {'operation':44} {'median us':>10} {'p99 us':>10} {'cpu median us':>14}")
        for name, r in entry["ops"].items():
            print(f"  {name:44} {r['median_us']:>10} {r['p99_us']:>10} {r['cpu_median_us']:>14}")
    for name, r in results["per_key"].items():
        print(f"\n{name}: median {r['median_us']} us, p99 {r['p99_us']} us")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
