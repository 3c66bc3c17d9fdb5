"""Value-annotated question sets (RLEV, "Every Question Has Its Own Value", arXiv 2510.20187).

`papers` knows the GAOKAO papers (which paper a subject sits in, and its total), `exams` groups rows into
exams and resolves their totals, `values` holds the value and scale formulas and the value distribution,
`final` takes the final answers out of responses and worked solutions, `answers` checks them (with
`choices`, `maths`, `quantities`, `text`) and says when it cannot decide, `judging` adds the LLM judge for
those, `llm` holds the model calls (the Table 7 value predictor, the equivalence judge), `metrics` and
`evaluate` compute value-aware accuracy per run.
"""
