"""SHA-256 reference digests from Python's hashlib, for Tests/LatentPipelineTests/SHA256Tests.swift.

Messages are bytes (7*i + 3) % 256 for i < n, at lengths around the 64-byte block and the
56-byte padding boundary, plus the FIPS 180-2 examples. Run: python3 make_sha256_fixtures.py
"""
import hashlib
import json
from pathlib import Path

lengths = sorted(set(list(range(0, 130)) + [191, 192, 193, 1000, 4095, 4096, 4097, 100_003]))
cases = []
for n in lengths:
    data = bytes((7 * i + 3) % 256 for i in range(n))
    cases.append({"length": n, "sha256": hashlib.sha256(data).hexdigest()})
texts = ["abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "a" * 1_000_000]
named = [{"text": t if len(t) < 100 else None, "repeat_a": len(t) if len(t) >= 100 else None,
          "sha256": hashlib.sha256(t.encode()).hexdigest()} for t in texts]
Path(__file__).with_name("sha256_cases.json").write_text(json.dumps({"patterned": cases, "texts": named}, indent=1) + "\n")
