"""`testbed doctor` wires testbed.doctor's diagnosis to a table, an install line and a status
(the acceptance test on a machine without prosody belongs with testbed/doctor.py's tests)."""

from __future__ import annotations

import json

from tests.cli import run_cli


def test_doctor_json_and_its_exit_status_agree_with_the_checks() -> None:
    done = run_cli("doctor", "--json")
    data = json.loads(done.stdout)
    from testbed.doctor import diagnose

    diagnosis = diagnose()
    assert data == json.loads(json.dumps(diagnosis.to_json(), default=str))
    failed = any(c.required and not c.ok for c in diagnosis.checks)
    assert done.returncode == (1 if failed else 0), done.stderr


def test_doctor_table_names_every_check_and_what_to_install() -> None:
    from testbed.doctor import diagnose

    diagnosis = diagnose()
    done = run_cli("doctor")
    text = " ".join(done.stdout.split())
    for check in diagnosis.checks:
        assert check.name in text
    install = [line for line in done.stdout.splitlines() if line.startswith("install them")]
    if diagnosis.missing_packages:
        assert install == [f"install them with: sudo apt-get install "
                           f"{' '.join(diagnosis.missing_packages)}"]
    else:
        assert install == []
