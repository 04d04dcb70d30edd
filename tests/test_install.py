"""tools/install.py hands uv exactly pip's settings, and leaves the install to pip when one of
them has no uv equivalent (a wrong translation would install another stack than pip would)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("install", Path(__file__).parent.parent / "tools" / "install.py")
install = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(install)


def test_pip_settings_become_uv_options_with_pips_index_semantics() -> None:
    settings = {"extra-index-url": "file:///a/simple file:///b/simple", "find-links": "/opt/wheels",
                "constraint": "/etc/c.txt", "cert": "/etc/ca.crt", "default-timeout": "180",
                "index-url": "https://mirror/simple"}
    arguments, env = install.uv_arguments(settings)
    assert arguments[:2] == ["--index-strategy", "unsafe-best-match"]
    assert " ".join(arguments[2:]) == ("--extra-index-url file:///a/simple --extra-index-url file:///b/simple "
                                       "--find-links /opt/wheels --constraint /etc/c.txt --index-url https://mirror/simple")
    assert env == {"SSL_CERT_FILE": "/etc/ca.crt"}


def test_a_setting_without_uv_equivalent_leaves_the_install_to_pip(capsys) -> None:
    assert install.uv_arguments({"find-links": "/opt/wheels", "trusted-host": "example.org"}) is None
    assert "'trusted-host' has no uv equivalent" in capsys.readouterr().err


def test_this_machines_pip_settings_are_read(monkeypatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/wheels")
    assert install.pip_settings()["find-links"] == "/somewhere/wheels"
