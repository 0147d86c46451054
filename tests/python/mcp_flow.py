"""The official MCP Python SDK (PyPI `mcp`) against pagepilot's MCP server, both transports.

usage: mcp_flow.py BASE_URL ALICE_TOKEN BOB_TOKEN FIXTURE_BASE PAGEPILOT_BINARY

Streamable HTTP at BASE_URL/mcp with bearer tokens; stdio by starting PAGEPILOT_BINARY as
`pagepilot mcp` (embedded server) and as `pagepilot mcp --url BASE_URL` (onto the running one).
"""
import asyncio
import os
import sys
import tempfile

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TOOLS = {"session_start", "session_list", "session_stop", "observe", "step", "act",
         "scrape", "screenshot", "tabs", "files"}
# What an MCP client commonly accepts in one tool result: 25,000 tokens of ~4 characters.
TOOL_RESULT_CHARS = 100_000


def http(base: str, token: str) -> Client:
    hc = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(base + "/mcp", http_client=hc))


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def ok(result):
    assert not result.is_error, text(result)
    return result


def failed(result, *needles):
    assert result.is_error, text(result)
    for n in needles:
        assert n in text(result), (n, text(result))
    return result


def action_id(observation: str, name: str) -> str:
    """The id of the listed action whose name starts with `name` (`* I1: Email address — ...`)."""
    for line in observation.splitlines():
        if line.startswith("* ") and ": " in line:
            ident, rest = line[2:].split(": ", 1)
            if rest.startswith(name):
                return ident
    raise AssertionError(f"no action named {name!r} in:\n{observation}")


async def check_tools(c: Client) -> None:
    tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == TOOLS, sorted(tools)
    for t in tools.values():
        assert t.description and len(t.description) > 20, t
        assert t.input_schema.get("type") == "object", t.input_schema
    observe = tools["observe"].input_schema
    for field in ("session_id", "url", "max_chars", "max_nb_actions", "diff"):
        assert field in observe["properties"], observe
    step = tools["step"].input_schema
    assert step.get("required") == ["action_id"], step
    assert "value" in step["properties"], step
    act = tools["act"].input_schema
    assert "type" in act["required"], act
    assert step.get("additionalProperties") is False, step


async def over_http(base: str, alice: str, bob: str, fx: str) -> str:
    async with http(base, alice) as c:
        await check_tools(c)
        started = ok(await c.call_tool("session_start", {"idle_timeout_minutes": 5}))
        sid = started.structured_content["session_id"]
        assert started.structured_content["status"] == "active", started.structured_content

        ok(await c.call_tool("act", {"session_id": sid, "type": "goto",
                                     "payload": {"url": fx + "/agent/login.html"}}))
        seen = text(ok(await c.call_tool("observe", {"session_id": sid})))
        assert f"session_id: {sid}" in seen, seen
        assert "Sign in" in seen and "## Page content" in seen, seen
        email = action_id(seen, "Email address")
        password = action_id(seen, "Password")
        sign_in = action_id(seen, "Sign in")

        stepped = text(ok(await c.call_tool("step", {"session_id": sid, "action_id": email,
                                                     "value": "ada@example.com"})))
        assert stepped.startswith(f"{email} done"), stepped
        assert 'value "ada@example.com"' in stepped, stepped
        # The connection's current session: no session_id from here on.
        ok(await c.call_tool("act", {"type": "fill",
                                     "payload": {"selector": "input[name=password]", "value": "pw"}}))
        after = text(ok(await c.call_tool("step", {"action_id": sign_in})))
        assert "Search the shop" in after, after

        scraped = text(ok(await c.call_tool("scrape", {"only_main_content": False})))
        assert "Search products" in text(ok(await c.call_tool("scrape", {}))), scraped
        assert "Signed in as ada@example.com" in scraped, scraped
        shot = ok(await c.call_tool("screenshot", {"session_id": sid}))
        images = [b for b in shot.content if b.type == "image"]
        assert images and images[0].mime_type == "image/png" and len(images[0].data) > 1000, shot
        # A PDF through act, then the session's files: listed, and a text one read back.
        printed = ok(await c.call_tool("act", {"type": "pdf", "payload": {"name": "shop.pdf"}}))
        assert printed.structured_content["file"]["name"] == "shop.pdf", printed.structured_content
        listed_files = ok(await c.call_tool("files", {}))
        assert [f["name"] for f in listed_files.structured_content["files"]] == ["shop.pdf"], listed_files
        failed(await c.call_tool("files", {"name": "shop.pdf"}), "not text")
        failed(await c.call_tool("files", {"name": "../etc/passwd"}), "not accepted")
        failed(await c.call_tool("files", {"name": "nope.txt"}), "no file")
        # Stored over MCP, then read back.
        stored = ok(await c.call_tool("files", {"name": "note.txt", "content_base64": "aGVsbG8gbWNw"}))
        assert stored.structured_content["file"]["size"] == 9, stored.structured_content
        assert text(ok(await c.call_tool("files", {"name": "note.txt"}))) == "hello mcp"
        failed(await c.call_tool("files", {"name": "x.txt", "content_base64": "***"}), "content_base64")
        failed(await c.call_tool("files", {"content_base64": "aGk="}), "needs a `name`")
        tabs = ok(await c.call_tool("tabs", {}))
        assert len(tabs.structured_content["tabs"]) == 1, tabs.structured_content
        listed = ok(await c.call_tool("session_list", {}))
        assert sid in [s["session_id"] for s in listed.structured_content["sessions"]], listed

        # Bad inputs are tool errors naming the field; the connection goes on.
        failed(await c.call_tool("step", {"session_id": sid}), "action_id")
        failed(await c.call_tool("observe", {"session_id": sid, "max_chars": "lots"}), "max_chars")
        failed(await c.call_tool("observe", {"session_id": sid, "max_nb_actions": -5}), "max_nb_actions")
        for extreme in (0, 1e300, 2**63, 199, 10**8):
            failed(await c.call_tool("observe", {"session_id": sid, "max_chars": extreme}), "max_chars")
        failed(await c.call_tool("observe", {"session_id": sid, "maxchars": 500}), "maxchars")
        failed(await c.call_tool("step", {"session_id": sid, "action_id": "B99"}), "B99")
        failed(await c.call_tool("act", {"session_id": sid, "type": "teleport"}), "teleport")
        failed(await c.call_tool("act", {"session_id": sid, "type": "goto", "payload": {"url": 5}}),
               "payload.url")
        failed(await c.call_tool("observe", {"session_id": "x" * 5000}), "session_id")
        failed(await c.call_tool("observe", {"session_id": "sess_nope"}), "not found")
        failed(await c.call_tool("no_such_tool", {}), "unknown tool")
        ok(await c.call_tool("observe", {"session_id": sid, "diff": True}))

        # The default observation of a large page fits a tool result and says what it left out.
        big = text(ok(await c.call_tool("observe", {"session_id": sid, "url": fx + "/agent/big.html"})))
        assert len(big) <= TOOL_RESULT_CHARS, len(big)
        assert "more actions not listed" in big, big[-2000:]

    # Another tenant cannot see or use it: "not found", as on every protocol.
    async with http(base, bob) as c:
        failed(await c.call_tool("observe", {"session_id": sid}), "not found")
        failed(await c.call_tool("session_stop", {"session_id": sid}), "not found")

    # A new MCP connection continues the same session by id.
    async with http(base, alice) as c:
        again = ok(await c.call_tool("observe", {"session_id": sid}))
        assert again.structured_content["url"].endswith("/agent/big.html"), again.structured_content
        ok(await c.call_tool("act", {"session_id": sid, "type": "goto",
                                     "payload": {"url": fx + "/agent/search.html?user=ada"}}))
    return sid


async def over_stdio(binary: str, base: str, alice: str, fx: str, sid: str) -> None:
    # Onto the running server: the session started over HTTP goes on over stdio.
    env = {**os.environ, "PAGEPILOT_TOKEN": alice}
    remote = StdioServerParameters(command=binary, args=["mcp", "--url", base], env=env)
    async with Client(remote) as c:
        await check_tools(c)
        seen = ok(await c.call_tool("scrape", {"session_id": sid, "only_main_content": False}))
        assert "Signed in as ada" in text(seen), text(seen)
        # The stdio connection keeps its current session: no id from here on.
        ok(await c.call_tool("act", {"type": "goto", "payload": {"url": fx + "/agent/login.html"}}))
        again = ok(await c.call_tool("observe", {}))
        assert again.structured_content["session_id"] == sid, again.structured_content
        ok(await c.call_tool("session_stop", {}))
        failed(await c.call_tool("step", {"session_id": sid, "action_id": "B1"}), "not active")

    # Embedded: `pagepilot mcp` starts its own server and browser.
    state = tempfile.mkdtemp(prefix="pagepilot-mcp-")
    embedded = StdioServerParameters(
        command=binary,
        args=["mcp", "--allow-private-network", "--state-dir", state],
        env={**os.environ, "RUST_LOG": "warn"})
    async with Client(embedded) as c:
        await check_tools(c)
        seen = text(ok(await c.call_tool("observe", {"url": fx + "/agent/login.html"})))
        email = action_id(seen, "Email address")
        stepped = text(ok(await c.call_tool("step", {"action_id": email, "value": "grace@example.com"})))
        assert 'value "grace@example.com"' in stepped, stepped
        failed(await c.call_tool("step", {"action_id": 7}), "action_id")
        ok(await c.call_tool("session_stop", {}))


async def main(base: str, alice: str, bob: str, fx: str, binary: str) -> None:
    sid = await over_http(base, alice, bob, fx)
    await over_stdio(binary, base, alice, fx, sid)
    print("mcp flow ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
