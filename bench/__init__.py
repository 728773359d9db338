"""Benchmarks of exportable_trainers, each pair measured side by side in one run.

python -m bench            # or: make bench
"""
