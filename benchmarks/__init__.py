"""Benchmarks: the session endpoint served five ways, driven by wrk on loopback."""
