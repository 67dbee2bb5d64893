"""Assessment mode, for hiring take-homes: the candidate kit (`grade kit`: statements, stubs and
an interface-only check, nothing hidden), batch grading of a folder of submissions with one seed
(`grade batch`), the reports a reviewer reads, and similarity between submissions. Nothing here
gives hints, reveals a solution or records practice progress.
"""
