"""The interactive judges: the built-in explorer scores what really responds, and nothing leaves the
machine; the WebVoyager-style agent follows the action grammar on Set-of-Mark screenshots."""

from __future__ import annotations

import math

import pytest

from curate.judges.interactive import Explorer, LLMExplorer, parse_plan, parse_turn
from curate.llm import LLMConfig, ParseError
from tests.judge_cases import PAGES_DIR
from tests.llm_server import LLMServer, prompt_text

PRICING = (PAGES_DIR / "pricing.html").read_text()
GAME = """<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"><title>Game</title></head>
<body><canvas id="c" width="200" height="200" tabindex="0"></canvas><script>
let x = 20; const g = document.getElementById('c').getContext('2d');
function draw() { g.fillStyle = '#fff'; g.fillRect(0, 0, 200, 200); g.fillStyle = '#c33'; g.fillRect(x, 90, 20, 20); }
document.addEventListener('keydown', e => { if (e.key === 'ArrowRight') { x += 30; draw(); } }); draw();
</script></body></html>"""


@pytest.fixture(scope="module")
def explorer():
    browser = Explorer()
    yield browser
    browser.close()


def test_explorer_scores_what_responds(explorer):
    # the billing toggle changes the prices; the three identical "Sign up" buttons (one planned) do nothing
    assert explorer.explore(PRICING, 5) == [1.0, 0.0]
    assert explorer.explore(GAME, 3) == [1.0]  # arrow keys move the square on the canvas
    broken = PRICING.replace("const y =", "undefinedFunction(); const y =")
    assert explorer.explore(broken, 5) == [0.0, 0.0]  # a console error is not a working interaction
    assert explorer.explore("<!DOCTYPE html><p>No controls here.</p>", 5) == []


def test_explorer_blocks_the_network(explorer):
    with LLMServer() as server:
        page = (f'<!DOCTYPE html><img src="{server.url}/x.png"><button onclick="fetch(\'{server.url}/chat/completions\', '
                f'{{method: \'POST\', body: \'{{}}\'}}).then(() => document.body.append(\'sent\'))">Send</button>')
        scores = explorer.explore(page, 2)
        assert server.counts["requests"] == 0 and server.counts["chat"] == 0
    assert scores == [0.0]  # the request was aborted, so nothing changed


def test_action_grammar():
    assert parse_turn("Thought: try it\nScore: NaN\nAction: Click [3]")[1:3] == ("click", 3)
    assert math.isnan(parse_turn("Score: NaN\nAction: Wait")[0])
    assert parse_turn("Score: 1\nAction: Type [2]; hello world") == (1.0, "type", 2, "hello world")
    assert parse_turn("Score: 0\nAction: arrowleft")[1] == "ArrowLeft"
    assert parse_turn("score: 1\naction: FINISH")[1] == "FINISH"
    with pytest.raises(ParseError):
        parse_turn("I clicked the button.")


def test_llm_agent_plans_then_acts_on_set_of_mark_screenshots(monkeypatch):
    """OpenDesign's agent: a ranked plan first (cut to the interactions asked for), then one action per
    turn, each turn scoring the previous action; game pages get the game prompt."""
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    turns: list[str] = []

    def agent(body: dict) -> str:
        text = prompt_text(body)
        turns.append(text)
        label = next(line.split("]")[0][1:] for line in text.splitlines() if "Billing" in line)
        return [f"1. Click [{label}] - prices switch to yearly\n2. ArrowDown - the page scrolls\n3. Click [{label}] - back",
                f"Score: NaN\nAction: Click [{label}]", "Score: 1\nAction: ArrowDown", "Score: 0\nAction: FINISH"][len(turns) - 1]

    with LLMServer(responder=agent) as server:
        agent_explorer = LLMExplorer(LLMConfig(model="agent", base_url=server.url, api_key_env="CURATE_TEST_KEY"))
        try:
            scores = agent_explorer.explore(PRICING, 2, instruction="A pricing page with a billing toggle")
        finally:
            agent_explorer.close()
        images = [p for b in server.bodies for m in b["messages"] if isinstance(m["content"], list)
                  for p in m["content"] if p["type"] == "image_url"]
    assert scores == [1.0, 0.0]  # the plan was cut to 2 interactions
    assert len(turns) == 4 and len(images) == 4
    assert "Plan the interactions" in turns[0] and "<button> Billing: monthly" in turns[0]
    assert "Next: Click [" in turns[1] and "prices switch to yearly" in turns[1]
    assert "Billing: yearly" in turns[2]  # the click really toggled the page the agent sees next
    assert "This page is a game" not in "".join(turns)

    game_turns: list[str] = []

    def player(body: dict) -> str:
        game_turns.append(prompt_text(body))
        return ["1. ArrowRight - the square moves", "Score: NaN\nAction: ArrowRight", "Score: 1\nAction: FINISH"][len(game_turns) - 1]

    with LLMServer(responder=player) as server:
        agent_explorer = LLMExplorer(LLMConfig(model="agent", base_url=server.url, api_key_env="CURATE_TEST_KEY"))
        try:
            assert agent_explorer.explore(GAME, 3, instruction="A game", game=True) == [1.0]
        finally:
            agent_explorer.close()
    assert all("This page is a game" in t and "arrow keys" in t for t in game_turns)


def test_plan_grammar():
    assert parse_plan("Plan:\n1. Click [2] - opens\n2) Type [3]; hi - accepted\n") == ["Click [2] - opens",
                                                                                      "Type [3]; hi - accepted"]
    with pytest.raises(ParseError):
        parse_plan("I would click around.")
