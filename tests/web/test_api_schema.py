"""The REST API against its own OpenAPI document (schemathesis, in-process over ASGI):
no request, valid or not, makes any operation answer a server error.

SQLite only; a coordinator's token (the role that reaches every operation).  A few
demo cases exist, so the documented examples (``KAV-2026-00004``) reach a real case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from engine.cases import open_case
from engine.queries import actor_for
from gaita import users
from gaita.bootstrap import App
from gaita.web import create_app
from tests.conftest import make_test_app
from tests.web.conftest import CHILD_CODE, CHILD_NAME, SCHOOL

#: Examples per operation and generation mode: enough to reach every parameter, small
#: enough for the whole module to run in well under a minute.
EXAMPLES = 30


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[App]:
    gaita = make_test_app(f"sqlite:///{tmp_path / 'gaita.db'}", base_url="https://testserver")
    coordinator = actor_for(gaita.db, "koordinatore")
    for _ in range(4):
        open_case(gaita.db, gaita.rt, "absences", coordinator, child_name=CHILD_NAME,
                  child_code=CHILD_CODE, school=SCHOOL, fields={"age_group": "basic"})
    yield gaita
    gaita.db.dispose()


@pytest.mark.slow
def test_no_request_makes_the_api_fail(api_app: App) -> None:
    # Each operation's documented examples, then generated requests, valid and not, each
    # a Hypothesis run of its own.  (schemathesis.pytest.from_fixture does not run on
    # pytest 9: it sets Node._nodeid, which pytest 9 no longer has.)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(api_app))
    _, token = users.create_token(api_app.db, api_app.rt, "admin", "koordinatore",
                                  "schemathesis")
    headers = {"Authorization": f"Bearer {token}"}
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}

    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers,
                                          checks=[schemathesis.checks.not_a_server_error])
        statuses[response.status_code] += 1

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16
    for operation in operations:
        examples = schema.get_strategies_from_examples(operation)
        runs = [("examples", st.one_of(examples))] if examples else []
        runs += [(mode.value, operation.as_strategy(mode, headers=headers))
                 for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        for name, strategy in runs:
            run = settings(max_examples=EXAMPLES, deadline=None, database=None,
                           suppress_health_check=list(HealthCheck))(given(strategy)(check))
            try:
                run()
            except Unsatisfiable:   # nothing to make invalid (an operation with no input)
                assert name == GenerationMode.NEGATIVE.value, operation.label
            except Exception as exc:   # every operation is tried; all failures are shown
                failures[f"{operation.label} ({name})"] = f"{type(exc).__name__}: {exc}"
    print(f"schemathesis: {sum(statuses.values())} requests to {len(operations)} operations, "
          f"statuses {dict(sorted(statuses.items()))}")
    assert failures == {}
    assert statuses[200] + statuses[201] > 0 and not any(s >= 500 for s in statuses)
