"""The unmodified capture-sdk client (PyPI) against a running pagepilot.

usage: capture_sdk_flow.py BASE_URL USER SECRET FIXTURE_BASE
"""
import asyncio
import sys

from capture import Capture, CaptureSessionsError


async def main(base: str, user: str, secret: str, fixtures: str) -> None:
    client = Capture(user, secret)
    client.EDGE_URL = base  # the SDK's only base-URL knob

    created = await client.sessions.create({"maxTtlSeconds": 120})
    assert created["success"] is True, created
    sid = created["session"]["id"]
    assert sid.startswith("sess_"), created

    page = fixtures + "/capture/interact.html"
    went = await client.sessions.action(sid, "goto", {"url": page})
    assert went["success"] and went["url"] == page, went
    assert went["expiresInSeconds"] > 0, went

    clicked = await client.sessions.action(sid, "click", {"selector": "#btn"})
    assert clicked["matched"] and clicked["visible"] and clicked["clickedPoint"], clicked
    counted = await client.sessions.action(sid, "query", {"selector": "#clicks"})
    assert counted["elements"][0]["text"] == "1", counted

    got = await client.sessions.get(sid)
    assert got["session"]["status"] == "active", got
    assert got["session"]["actionCount"] == 3, got
    assert got["session"]["actionBreakdown"]["click"]["success"] == 1, got

    closed = await client.sessions.close(sid)
    assert closed["session"]["status"] == "closed", closed
    assert closed["session"]["billedCredits"] == 1, closed

    try:
        await client.sessions.get("sess_00000000-0000-0000-0000-000000000000")
        raise AssertionError("a missing session must raise")
    except CaptureSessionsError as e:
        assert e.status == 404, e.status
        assert "not found" in str(e), str(e)

    try:
        await client.sessions.action(sid, "title")
        raise AssertionError("an action on a closed session must raise")
    except CaptureSessionsError as e:
        assert e.status == 409, e.status

    print("capture-sdk flow ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
