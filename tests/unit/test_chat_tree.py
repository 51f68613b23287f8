"""The message tree and the history a turn sends: branches, siblings, overlay, trimming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from events.chat import TurnCompleted, TurnData
from handlers.chat.history import budget, build_messages, estimate_tokens
from handlers.chat.tree import Node, Tree

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def node(id: str, parent: str | None, role: str, minute: int, content: str = "") -> Node:
    return Node(
        id=id,
        parent_id=parent,
        role=role,
        content=content or id,
        created_at=T0 + timedelta(minutes=minute),
    )


def turn(user: str, parent: str | None, answer: str, minute: int) -> TurnCompleted:
    at = T0 + timedelta(minutes=minute)
    data = TurnData(
        session_id="s",
        user_id="u",
        turn_id=f"t-{answer}",
        user_message_id=user,
        parent_id=parent,
        question=user,
        asked_at=at,
        assistant_message_id=answer,
        answer=answer,
        answered_at=at,
        model_config_id="m",
    )
    return TurnCompleted(subject="s", data=data)


def test_branch_follows_the_newest_sibling_and_apply_supersedes_older_ones() -> None:
    tree = Tree([node("q1", None, "user", 0), node("a1", "q1", "assistant", 1)])
    tree.apply(turn("q2", "a1", "a2", 2))
    assert [n.id for n in tree.branch()] == ["q1", "a1", "q2", "a2"]

    # A regenerated answer (same question) becomes current; the first one is superseded.
    tree.apply(turn("q2", "a1", "a2b", 3))
    assert [n.id for n in tree.branch()] == ["q1", "a1", "q2", "a2b"]
    assert tree.nodes["a2"].superseded
    assert [n.id for n in tree.siblings(tree.nodes["a2b"])] == ["a2", "a2b"]

    # An edited first question starts a new branch; the old turns stay in walk().
    tree.apply(turn("q1b", None, "b1", 4))
    assert [n.id for n in tree.branch()] == ["q1b", "b1"]
    assert [n.id for n in tree.walk()] == ["q1", "a1", "q2", "a2", "a2b", "q1b", "b1"]
    assert not tree.on_branch("a2b")
    assert [n.id for n in tree.path_to("a2b")] == ["q1", "a1", "q2", "a2b"]


def test_a_late_older_sibling_arrives_superseded_whatever_the_order() -> None:
    tree = Tree([node("q1", None, "user", 0)])
    tree.add(node("new", "q1", "assistant", 5))
    assert tree.add(node("old", "q1", "assistant", 1))
    assert tree.nodes["old"].superseded
    assert not tree.nodes["new"].superseded
    assert not tree.add(node("old", "q1", "assistant", 1))  # known ids change nothing


def test_deleting_the_current_sibling_brings_the_previous_one_back() -> None:
    tree = Tree([node("q1", None, "user", 0)])
    tree.add(node("a", "q1", "assistant", 1))
    tree.add(node("b", "q1", "assistant", 2))
    tree.nodes["b"].deleted = True
    assert [n.id for n in tree.branch()] == ["q1", "a"]
    assert tree.leaf() is tree.nodes["a"]


def test_history_skips_failed_and_empty_answers() -> None:
    branch = [
        node("q1", None, "user", 0, "first"),
        Node(id="a1", parent_id="q1", role="assistant", content="", created_at=T0),
        node("q2", "a1", "user", 2, "second"),
        Node(
            id="a2",
            parent_id="q2",
            role="assistant",
            content="half",
            status="failed",
            created_at=T0,
        ),
    ]
    messages, dropped = build_messages("sys", branch, "third", prompt_budget=None)
    assert [(m.role, m.content) for m in messages] == [
        ("system", "sys"),
        ("user", "first"),
        ("user", "second"),
        ("user", "third"),
    ]
    assert dropped == 0


def test_history_drops_the_oldest_turns_to_fit_but_keeps_system_and_question() -> None:
    branch = [
        node("q1", None, "user", 0, "a" * 400),
        node("a1", "q1", "assistant", 1, "b" * 40),
        node("q2", "a1", "user", 2, "c" * 40),
        node("a2", "q2", "assistant", 3, "d" * 40),
    ]
    fixed = estimate_tokens("sys") + estimate_tokens("now")
    room = fixed + 2 * estimate_tokens("c" * 40)
    messages, dropped = build_messages("sys", branch, "now", prompt_budget=room)
    assert [m.content for m in messages] == ["sys", "c" * 40, "d" * 40, "now"]
    assert dropped == 1
    tiny, dropped = build_messages("sys", branch, "x" * 1000, prompt_budget=5)
    assert [m.content for m in tiny] == ["sys", "x" * 1000]
    assert dropped == 2


def test_budget_reserves_room_for_the_answer() -> None:
    assert budget(None, 100) is None
    assert budget(8000, 1000) == 7000
    assert budget(8000, None) == 8000 - 1024
    assert budget(400, None) == 300
