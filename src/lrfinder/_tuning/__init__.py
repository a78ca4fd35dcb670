"""Policies that act on range tests during training: re-finding the rate as training goes on.

Framework-free; each adapter (``lrfinder.torch``, ``lrfinder.keras``) drives them with its own
range test. The public names are re-exported by ``lrfinder``; import them from there.
"""
