"""Plots of a result and of a schedule; matplotlib is imported only when a plot is drawn.

The public names are re-exported by ``lrfinder``; import them from there.
"""
