"""Benchmarks of qa: quality, speed, memory and growth, side by side (`python -m bench`)."""
