"""The agentic aesthetic reward: the HTMLHint-style lint, the gate, the normalisers, and the TRL-style
function over strings and chat messages (rendered in Chromium, judged and explored for real)."""

from __future__ import annotations

import pytest

from curate.judges.choice import JudgeChoice
from curate.judges.htmllint import lint_html
from curate.llm import LLMConfig
from curate.rewards.aesthetic import RewardWeights, exec_term, make_aesthetic_reward, terms
from tests.judge_cases import PAGES_DIR, degrade_page
from tests.llm_server import LLMServer

PRICING = (PAGES_DIR / "pricing.html").read_text()


def rules(html: str) -> set[str]:
    return {i.rule for i in lint_html(html).errors}


def test_lint_core_checks():
    assert lint_html(PRICING).passed
    assert rules("<p>hi</p>") >= {"doctype-first", "viewport-meta"}
    head = '<!DOCTYPE html><html><head><meta name="viewport" content="w"><title>t</title></head><body>'
    assert rules(head + "<div><span>x</div></body></html>") == {"tag-pair"}
    assert rules(head + '<p id="a">1</p><p id="a">2</p></body></html>') == {"id-unique"}
    assert rules(head + "<p class=x>1</p></body></html>") == {"attr-value-quoted"}
    assert rules(head + '<p class="a" class="b">1</p></body></html>') == {"attr-no-duplication"}
    assert rules(head + "<br><img src=\"a.png\"><input></body></html>") == set()  # void elements need no end tag
    script = head + "<script>if (a < b && c > d) { x = '</div>'.length }</script></body></html>"
    assert lint_html(script).passed  # script bodies are not markup
    warnings = {i.rule for i in lint_html(head.replace("<title>t</title>", "") + "<IMG src=\"\"></body></html>").issues}
    assert {"title-require", "tagname-lowercase", "src-not-empty"} <= warnings and lint_html(
        head + "<IMG src=\"\"></body></html>").passed


def test_terms_gate_and_normalise():
    w = RewardWeights()
    assert terms(-1.0, 90.0, [1, 1, 1], w, 3) == {"r_exec": -1.0, "r_static": None, "r_inter": None,
                                                  "reward": pytest.approx(-0.1)}
    t = terms(1.0, 80.0, [1.0, 0.0, float("nan")], w, 3)
    assert t["r_static"] == pytest.approx(0.8) and t["r_inter"] == pytest.approx(1 / 3)
    assert t["reward"] == pytest.approx(0.1 + 0.8 * 0.8 + 0.1 / 3)
    custom = RewardWeights(w_exec=0.2, w_static=0.5, w_inter=0.3, static_norm=50, inter_norm=2)
    assert terms(1.0, 40.0, [1, 1], custom, 5)["reward"] == pytest.approx(0.2 + 0.5 * 0.8 + 0.3 * 1.0)
    assert terms(1.0, None, [1], w, 3)["reward"] is None  # the static judge failed: no reward, not a zero
    assert exec_term("html", True, "<p>x")[0] == -1 and exec_term("python", True, "x = 1") == (1.0, None)
    assert exec_term("python", False, "x = 1") == (-1.0, "execution failed")


def test_trl_reward_function_on_strings_and_chat_messages():
    reward = make_aesthetic_reward(JudgeChoice(interactive="builtin", interactions=3))
    clean = f"Here is the page:\n```html\n{PRICING}\n```"
    clashing = f"```html\n{degrade_page(PRICING, 'clashing_colours')}\n```"
    chat = [{"role": "user", "content": "make a page"}, {"role": "assistant", "content": clean}]
    values = reward([clean, clashing, chat, "```html\n<div>unclosed\n```", "no code at all"],
                    prompts=["A pricing page with a billing toggle"] * 5)
    assert len(values) == 5 and all(isinstance(v, float) for v in values)
    assert values[0] == pytest.approx(values[2])  # a chat message list is read like its text
    assert values[0] > values[1] > 0  # same page, clashing colours score lower
    assert values[0] <= 1.0
    assert values[3] == pytest.approx(-0.1) and values[4] == pytest.approx(-0.1)  # lint failure / no HTML: gated
    reward.close()


def test_the_reward_takes_the_same_judge_choice_as_curate_judge(monkeypatch, tmp_path):
    """An LLM/VLM judge (OpenDesign's rubric) scores the rendered pages; its total is the static term."""
    monkeypatch.setenv("CURATE_TEST_KEY", "k")

    def judge(body: dict) -> str:
        return '{"alignment_score": 30, "aesthetics_score": 20, "structure_score": 20, "total_score": 70, "feedback": "ok"}'

    with LLMServer(responder=judge) as server:
        choice_file = tmp_path / "judge.yaml"
        choice_file.write_text(f"judge: llm\nllm: {{model: vlm, base_url: '{server.url}', api_key_env: CURATE_TEST_KEY}}\n"
                               "interactive: off\n")
        monkeypatch.setenv("CURATE_AESTHETIC_JUDGE", str(choice_file))
        reward = make_aesthetic_reward()  # as `curate train grpo --reward aesthetic` gets it
        values = reward([f"```html\n{PRICING}\n```", "no code"], prompts=["A pricing page"] * 2)
        reward.close()
        assert server.counts["chat"] == 1  # the page that rendered, once; the gated one costs nothing
    assert values == [pytest.approx(0.1 + 0.8 * 0.7), pytest.approx(-0.1)]
    assert JudgeChoice.from_file(choice_file).llm == LLMConfig(model="vlm", base_url=server.url,
                                                               api_key_env="CURATE_TEST_KEY")
