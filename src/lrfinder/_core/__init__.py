"""The core, numpy only: the sweep, the stopping rule, smoothing, the step-by-step range test, its
result, the registry of suggestion rules, and ``find_lr`` for any loop that can run one step.

The lowest layer: it imports nothing else of lrfinder. The public names are re-exported by
``lrfinder``; import them from there.
"""
