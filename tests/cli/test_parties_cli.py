"""``gaita case aggressor`` and ``gaita case address`` (MK 474 p. 12 to another
municipality), and what ``gaita case show`` says of them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.store import OUTBOX, PARTY
from gaita.demo import demo_code
from tests.cli.test_cli import Gaita
from tests.conftest import START
from tests.engine.test_escalation import migrated_app
from tests.engine.test_parties import P12, to_school_measures


def test_aggressor_elsewhere_waits_for_the_address_then_the_report_is_sent(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gaita.db'}"
    app = migrated_app(url)
    ref = to_school_measures(app)
    cli = Gaita(url, tmp_path)
    cli.env["GAITA_NOW"] = START.isoformat()
    base = ["case", "aggressor", ref, "--child-name", "Kārlis Ozols", "--child-code",
            demo_code(7), "--school", "Šiaulių progimnazija"]
    # refusals: exit 4, a precise message, nothing stored
    own = cli(*base, "--as", "skola", "--municipality", "riga", "--child-code",
              "120514-21234", ok=False)
    assert own.returncode == 4 and "cannot be the case's own child" in own.stderr
    unknown = cli(*base, "--as", "skola", "--municipality", "siauliai", ok=False)
    assert unknown.returncode == 4 and "is not in" in unknown.stderr
    assert "municipalities.yaml" in unknown.stderr
    forbidden = cli(*base, "--as", "auditors", "--municipality", "riga", ok=False)
    assert forbidden.returncode == 4
    with app.db.connect() as conn:
        assert conn.execute(sa.select(PARTY)).all() == []
    added = cli(*base, "--as", "skola", "--municipality", "siauliai", "--municipality-name",
                "Šiaulių miesto savivaldybė")
    assert "ADDRESS NEEDED" in added.stdout and "warning:" in added.stderr
    cli("case", "fire", ref, "report_to_municipality", "--as", "skola",
        *[a for k, v in P12.items() for a in ("--field", f"{k}={str(v).lower()}")])
    shown = cli("case", "show", ref, "--as", "koordinatore").stdout
    assert "aggressor: Kārlis Ozols" in shown
    assert "REPORT WAITING FOR THE ADDRESS" in shown
    assert "Kārlis" not in cli("case", "show", ref).stdout   # the operator: no identity
    assert cli.json("case", "show", ref)["waiting_for_address"] is True
    refused = cli("case", "address", ref, "--as", "skola", "--address", "a@b.example.lt",
                  ok=False)
    assert refused.returncode == 4
    given = cli("case", "address", ref, "--as", "koordinatore", "--address",
                "svietimas@siauliai.example.lt")
    assert "report is sent" in given.stdout
    assert "WAITING" not in cli("case", "show", ref, "--as", "koordinatore").stdout
    with app.db.connect() as conn:
        (payload,) = conn.execute(sa.select(OUTBOX.c.payload).where(
            OUTBOX.c.template == "residence_report")).scalars()
    assert payload["external"]["address"] == "svietimas@siauliai.example.lt"
    app.db.dispose()
