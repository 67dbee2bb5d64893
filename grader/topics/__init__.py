"""Judge-side helpers shared by the twin suites of one topic: input drawing and numpy oracles.

Only numpy here: these modules run in the judge, which never imports a framework.
"""
