"""neutex: neural-texture relighting.

The pipeline reads in the folder names: ``capture`` -> ``gbuffer``/``data`` (prepare) ->
``model``/``train`` -> ``eval``/``render`` -> ``report``; ``run`` (a trained run rebuilt, its
predictions, the one evaluator) sits below eval, render and the report, and ``device``,
``jsonio``, ``geometry``, ``color`` below everything.
"""

__version__ = "0.1.0"
