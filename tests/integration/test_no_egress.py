import ipaddress
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import TOPICS

pytestmark = pytest.mark.slow


def _is_loopback(target: str) -> bool:
    if "AF_UNIX" in target or target.startswith("'/"):
        return True
    match = re.search(r"'([0-9a-fA-F.:]+|localhost)'", target)
    if not match:
        return False
    host = match.group(1)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def test_ingest_retrieval_and_chat_open_no_outside_connection(tmp_path):
    corpus = tmp_path / "topics"
    corpus.mkdir()
    for name in ("sore-throat.md", "common-cold.md", "headache.md"):
        shutil.copy(TOPICS / name, corpus / name)
    probe = [sys.executable, "-m", "tests.integration.egress_probe", str(corpus)]
    out = subprocess.run(probe, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["kind"] == "answer" and report["sources"] > 0  # the real path really ran
    outside = [c for c in report["connections"] if not _is_loopback(c["target"])]
    assert outside == [], f"network connections left the machine: {outside}"
