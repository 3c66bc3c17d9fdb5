"""Answer checking: tricky cases (right, wrong, undecided), final answers of worked solutions, the whole
real GAOKAO bank against itself and reformatted copies, and the value reward with and without a judge."""

from __future__ import annotations

import json

import pytest

from bench._reformat import reformatted
from curate.llm import LLMConfig
from curate.rewards.value import completion_text, make_value_reward, value_reward
from curate.rlev.answers import JUDGE, RULES, UNDECIDED, check_response, reference_check
from curate.rlev.final import extract_answer, reference_answers
from curate.rlev.maths import latex_to_expression
from curate.sources.gaokao import read_gaokao
from curate.stage import Unit
from tests.conftest import FIXTURES, ROOT
from tests.llm_server import LLMServer, prompt_text

BANK = ROOT / "recipes" / "data" / "rlev" / "gaokao-bench"

CASES = [
    # choices: case, brackets, trailing option text, sets in any order; no letter at all is wrong
    ("B", "B", "single_choice", True), ("b", "B", "single_choice", True), ("(B)", "B", "single_choice", True),
    ("B.", "B", None, True), ("B. $[0,2]$", "B", "single_choice", True), ("答案：B", "B", None, True),
    ("C", "B", "single_choice", False), ("AB", "B", "single_choice", False), ("CB", "BC", "multi_choice", True),
    ("C, B", "BC", "multi_choice", True), ("B和C", "BC", "multi_choice", True), ("B", "BC", "multi_choice", False),
    ("ABC", "BC", "multi_choice", False), ("A,C,B", "A,C,B", "choice_slots", True),
    ("ACB", "A,C,B", "choice_slots", True), ("ABC", "A,C,B", "choice_slots", False),
    ("1. A 2. C 3. B", "A,C,B", "choice_slots", True), ("I think so", "B", "single_choice", False),
    # fractions, LaTeX and plain forms
    (r"\frac{2}{4}", "0.5", None, True), ("1/2", r"\dfrac{1}{2}", None, True), (r"\frac12", "0.5", None, True),
    (r"-\frac{3}{4}", "-0.75", None, True), (r"2\sqrt{2}", r"\sqrt{8}", None, True), ("-2", "2", None, False),
    (r"\sqrt[3]{8}", "2", None, True), (r"\pi/2", r"\frac{\pi}{2}", None, True), ("3.14", r"\pi", None, False),
    ("e^2", r"\mathrm{e}^{2}", None, True), ("2x+1", "1+2x", None, True), ("ln 2", r"\ln 2", None, True),
    (r"\frac{N_{1}}{N}", r"\frac{\mathrm{N}_{1}}{\mathrm{~N}}", None, True), ("０．５", "1/2", None, True),
    ("75°", r"$75^{\circ}$.", None, True), (r"\frac{5\pi}{12}", r"$75^{\circ}$.", None, True),
    ("0.98", "0. 98.", "blank", True), ("36", "36}", "blank", True),
    # assignment forms and equations
    ("x=2", "2", None, True), ("x = 3", "2", None, False), ("2x", "y=2x", None, True), ("y=2x", "2x", None, True),
    ("2x-y=0", "y=2x", None, True), ("3x-y=0", "3x-y=0", None, True), ("x^2+y^2=3", "$x^{2}+y^{2}=2$", "blank", False),
    (r"S_{5}=\frac{a_{1}(1-q^{5})}{1-q}=\frac{121}{3}", r"\frac{121}{3}", None, True),
    # tuples, intervals, sets, inequalities
    ("(0,2)", "(0, 2)", None, True), ("(2,0)", "(0,2)", None, False), ("[0,2)", "[0,2]", None, False),
    (r"\{2,1\}", r"\{1,2\}", None, True), (r"\{2,3\}", r"\{1,2\}", None, False),
    ("x>2", r"(2,+\infty)", None, True), (r"x \leqslant 8", r"(-\infty, 8]", None, True),
    ("x<8", r"(-\infty, 8]", None, False), (r"\{x \mid x>2\}", r"(2,+\infty)", None, True),
    # several blanks, alternatives, lists
    ("(1) -1/2 (2) ln 2", r"(1). $-\frac{1}{2} ; \quad$ (2). $\ln 2$.", "blank", True),
    ("(1) -1/2 (2) ln 3", r"(1). $-\frac{1}{2} ; \quad$ (2). $\ln 2$.", "blank", False),
    ("0.3", r"$\frac{3}{10} \# \# 0.3$", None, True), ("1, 3", "1 和 3", None, True), ("3和1", "1 和 3", None, True),
    ("1,2,3,5", "(1)(2)(3)(5)", "blank", True), ("1,2,3", "(1)(2)(3)(5)", "blank", False),
    (r"(x-2)^{2}+(y-3)^{2}=13", r"$(x-2)^{2}+(y-3)^{2}=13$ 或 $(x-2)^{2}+(y-1)^{2}=5$", "blank", None),
    ("which", "which/that", "blank", True), ("what", "which/that", "blank", False),
    ("2", r"2 (满足 $1<e \leq \sqrt{5}$ 皆可)", "blank", True),
    # numbers with units
    ("0.5 m", "50 cm", None, True), ("36 km/h", "10 m/s", None, True), ("3 m/s", "3", None, True),
    ("3 m/s", "3 s", None, False), ("6 N", "6N", None, True), ("50%", "0.5", None, True), ("25%", "25%", None, True),
    (r"2 \times 10^{3} m", "2 km", None, True), ("1,000", "1000", None, True), ("10.00001", "10", None, True),
    ("10.1", "10", None, False),
    # words: equal when folded; different words are wrong in a blank, undecided in an open question
    ("Hello, World!", "hello world", None, True), ("光合作用", "光合作用。", None, True),
    ("photosynthesis", "respiration", "blank", False), ("photosynthesis", "respiration", "open", None),
    ("one half", r"\frac12", "blank", None), ("", "2", "blank", False), ("", "B", None, False),
]


@pytest.mark.parametrize(("prediction", "reference", "question_type", "expected"), CASES)
def test_tricky_cases(prediction, reference, question_type, expected):
    verdict = check_response(prediction, reference, question_type)
    assert verdict.correct is expected
    assert verdict.check == (UNDECIDED if expected is None else RULES)


def test_final_answers_of_responses_and_worked_solutions():
    assert extract_answer(r"so the area is \boxed{\frac{1}{2}} square units") == r"\frac{1}{2}"
    assert extract_answer(r"\boxed{1} no, wait: \boxed{2}") == "2"
    assert extract_answer("解：由题意得……\n故选：C。") == "C"
    assert extract_answer("Reasoning...\nThe answer is B.") == "B"
    assert extract_answer("work\n\n42\n") == "42"
    assert extract_answer(r"由余弦定理, 所以 $b=2 \sqrt{2}$.") == r"b=2 \sqrt{2}"
    assert extract_answer("逐一分析选项：A 错误，B 正确。\n故选 B") == "B"
    # a worked solution: one final answer per part, marked by 故 / 所以 / 答案为; prose ends are not answers
    solution = ("解: (1) 由题意得 $a_{1}=2$, 公差 $d=3$,\n故 $a_{n}=3 n-1$.\n"
                "(2) 由 (1) 知 $S_{n}=\\frac{n(3 n+1)}{2}$,\n所以 $S_{10}=155$.")
    assert reference_answers(solution) == ["a_{n}=3 n-1", "S_{10}=155"]
    assert check_response("(1) a_n = 3n-1 (2) 155", solution, "open").correct is True
    assert check_response(r"(1) $a_n=3n+1$ (2) \boxed{155}", solution, "open").correct is False
    assert reference_answers("(1) 证明略\n(2) 所以 $n=5$ 时, $S_{n}$ 取得最大值.") == ["证明略", None]
    assert check_response("n=5", "(1) 证明略\n(2) 所以 $n=5$ 时, $S_{n}$ 取得最大值.", "open").check == UNDECIDED
    assert reference_check("历史是人民群众创造的。" * 5, "open") == UNDECIDED
    assert reference_check("$x^{2}+y^{2}=2$", "blank") == RULES


def test_model_output_is_never_evaluated():
    for hostile in ("__import__('os').system('true')", "pi.n(10**9)", "x.func", "9**9**9**9**9"):
        assert latex_to_expression(hostile) is None
    assert check_response("pi.n(99999999)", "1").correct is not True


def _bank() -> list[dict]:
    rows = []
    for path in sorted(BANK.rglob("*.json")):
        rows += [r.raw for r in read_gaokao(Unit(key="k", path=str(path)), {}) if r.raw]
    return rows


def test_every_objective_and_fill_in_reference_of_the_real_bank_matches_itself_and_a_reformatted_copy():
    """The whole GAOKAO-Bench: 1,781 objective and 167 fill-in-the-blank references (and the dictation and
    grammar blanks), each as its own answer and rewritten (spacing, full width, \\frac vs a/b, y=2x vs 2x)."""
    rows = _bank()
    assert len(rows) == 2811
    closed = [r for r in rows if r["question_type"] != "open"]
    fill_in = [r for r in closed if "Fill-in-the-Blank" in r["bank"]]
    assert len(closed) > 1900 and len(fill_in) == 167
    for row in closed:
        for answer in (row["answer"], reformatted(row["answer"], row["question_type"])):
            verdict = check_response(answer, row["answer"], row["question_type"])
            assert verdict.correct is not False, (row["bank"], row["answer"], answer)
            if row["question_type"] != "blank" or row in fill_in:
                assert verdict.correct is True, (row["bank"], row["answer"], answer)
    # no reference is wrong against itself (open ones: right or undecided)
    for row in rows:
        assert check_response(row["answer"], row["answer"], row["question_type"]).correct is not False
    # and none is right for the next question's reference
    for row, other in zip(closed, closed[1:], strict=False):
        if other["answer"].strip() != row["answer"].strip() and other["bank"] == row["bank"]:
            assert check_response(other["answer"], row["answer"], row["question_type"]).correct is not True


def test_real_gaokao_solutions_check_against_their_own_answers():
    """The bank's worked solutions of multiple-choice items end with the chosen option."""
    for name in ("2010-2022_Math_I_MCQs.json", "2010-2022_Physics_MCQs.json"):
        items = json.loads((FIXTURES / "rlev" / "gaokao" / name).read_text())["example"]
        for item, other in zip(items, items[1:] + items[:1], strict=True):
            answer = item["answer"][0]
            kind = "multi_choice" if len(answer) > 1 else "single_choice"
            assert check_response(item["analysis"], answer, kind).correct, (name, item["index"])
            if other["answer"][0] != answer:
                assert not check_response(item["analysis"], other["answer"][0], kind).correct


def test_value_reward_on_text_and_chat_completions():
    completions = ["The answer is B", [{"role": "assistant", "content": r"So \boxed{\frac{1}{2}}"}], "C",
                   [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "text", "text": "6 N"}]}],
                   "It is photosynthesis"]
    rewards = value_reward(completions, answer=["B", "0.5", "B", "6 N", "光合作用的产物是氧气和有机物，并储存能量"],
                           scale=[1.4, 2.0, 1.2, None, 1.5],
                           question_type=["single_choice", "blank", "single_choice", "blank", "open"], prompts=["p"] * 5)
    # right: its scale (1 when missing); wrong: 0; undecided (words against a different text): None
    assert rewards == [1.4, 2.0, 0.0, 1.0, None]
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"


def test_value_reward_asks_the_judge_only_what_the_rules_cannot_decide(tmp_path):
    def responder(body):
        return '{"equivalent": true}' if "Candidate's final answer: one half" in prompt_text(body) \
            else '{"equivalent": false}'

    with LLMServer(responder) as server:
        config = LLMConfig(model="judge", base_url=server.url, api_key_env="CURATE_TEST_KEY", max_requests=10)
        reward = make_value_reward(judge=config, cache_dir=tmp_path / "cache")
        args = dict(answer=["0.5", "0.5", "B", "7"], scale=[1.5, 1.5, 1.2, 1.8],
                    question_type=["blank", "blank", "single_choice", "blank"], question=["q1", "q2", "q3", "q4"])
        completions = ["The answer is one half", "a half, I think", "B", "8"]
        assert reward(completions, **args) == [1.5, 0.0, 1.2, 0.0]
        assert server.counts["chat"] == 2  # "one half" and "a half": not the choice, not the number
        assert reward(completions, **args) == [1.5, 0.0, 1.2, 0.0]
        assert server.counts["chat"] == 2  # the second time from the cache
    verdict = check_response("The answer is one half", "0.5", "blank")
    assert verdict.check == UNDECIDED and JUDGE == "judge"
