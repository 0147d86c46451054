"""The unmodified notte-sdk client (PyPI) against a running pagepilot.

usage: notte_sdk_flow.py BASE_URL BEARER_TOKEN FIXTURE_BASE
"""
import os
import sys

os.environ["DISABLE_TELEMETRY"] = "true"

from notte_core.errors import InvalidActionError  # noqa: E402
from notte_sdk import NotteClient  # noqa: E402


def main(base: str, token: str, fixtures: str) -> None:
    client = NotteClient(api_key=token, server_url=base, max_retries=0)
    with client.Session() as s:
        went = s.execute(type="goto", url=fixtures + "/capture/interact.html")
        assert went.success, went

        obs = s.observe()
        assert obs.metadata.url.endswith("/capture/interact.html"), obs.metadata
        assert obs.space.description, obs.space
        press = next(a for a in obs.space.interaction_actions if a.description.startswith("Press me"))
        name = next(a for a in obs.space.interaction_actions if a.description.startswith("Name"))

        clicked = s.execute(type="click", id=press.id)
        assert clicked.success, clicked
        filled = s.execute(type="fill", id=name.id, value="Ada")
        assert filled.success, filled

        counted = s.execute(type="evaluate_js", code="document.getElementById('clicks').textContent")
        assert counted.success and counted.data.markdown == "1", counted

        markdown = s.scrape()
        assert "Interact" in markdown, markdown

        status = s.status()
        assert status.status == "active", status
        assert status.session_id == s.session_id

        try:
            s.execute(type="click", id="B999")
            raise AssertionError("a bad id must raise")
        except InvalidActionError as e:
            assert "B999" in str(e), str(e)

    stopped = client.sessions.status(s.session_id)
    assert stopped.status == "closed", stopped
    print("notte-sdk flow ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
