"""Data sources: the bundled dated snapshot and (when reachable) Yahoo Finance.

Every source hands the compute layers the same long table of figures, one row per figure
with its value, unit, date and source (see :mod:`comps.sources.snapshot`).
"""
