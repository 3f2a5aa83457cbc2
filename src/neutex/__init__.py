"""neutex: neural-texture relighting.

The pipeline reads in the folder names: ``capture`` -> ``gbuffer``/``data`` (prepare) ->
``model``/``train`` -> ``eval``/``render`` -> ``report``.
"""

__version__ = "0.1.0"
