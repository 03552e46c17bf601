"""The store itself, on both backends: transactions commit together or not at all."""

from __future__ import annotations

import pytest

from conveyor.workspace import Workspace


def test_a_failed_transaction_leaves_nothing(ws: Workspace, backend: str) -> None:
    st = ws.state
    assert st.dialect == backend

    def failing() -> None:
        with st.transaction():
            st.execute("INSERT INTO trigger_marks (automation, mark, ran_at) VALUES (?, ?, ?)", ("a", "1|", "now"))
            with st.transaction():  # nested: joins the outer one
                st.execute("INSERT INTO trigger_marks (automation, mark, ran_at) VALUES (?, ?, ?)", ("b", "1|", "now"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing()
    assert st.execute("SELECT count(*) AS n FROM trigger_marks")[0]["n"] == 0
    with st.transaction():
        st.execute("INSERT INTO trigger_marks (automation, mark, ran_at) VALUES (?, ?, ?)", ("a", "1|", "now"))
    assert st.execute("SELECT automation FROM trigger_marks") == [{"automation": "a"}]
