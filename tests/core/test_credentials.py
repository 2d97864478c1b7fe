"""Where tokens come from, the keys file, prefixes, and what reaches which plugin."""

from __future__ import annotations

import os
import stat

import pytest

import imagegate
from imagegate import credentials
from imagegate.errors import AuthRequired, InvalidRequest
from tests.fakes import FakePlugin

SECURE = imagegate.Provider(
    id="secure",
    display_name="Secure",
    model_prefix="sec",
    auth_prefix="sk",
    auth="required",
    key_url="https://example.test/keys",
)


@pytest.fixture
def secure():
    return FakePlugin(provider=SECURE)


def test_explicit_beats_environment_beats_keys_file(secure, monkeypatch):
    credentials.write_keys("secure", ["from-keys-file"])
    monkeypatch.setenv("IMAGEGATE_SECURE_TOKEN", "from-environment")
    with imagegate.Gate(plugins=[secure]) as gate:
        gate.generate("a cat", model="sec/basic", token="from-argument")
        gate.generate("a cat", model="sec/basic")
        monkeypatch.delenv("IMAGEGATE_SECURE_TOKEN")
        gate.generate("a cat", model="sec/basic")
    assert [call["token"] for call in secure.calls] == [
        "from-argument",
        "from-environment",
        "from-keys-file",
    ]


def test_gate_tokens_by_provider_id_or_auth_prefix(secure):
    with imagegate.Gate(plugins=[secure], tokens={"sk": "by-prefix-token"}) as gate:
        gate.generate("a cat", model="sec/basic")
    assert secure.calls[-1]["token"] == "by-prefix-token"


def test_keys_file_is_owner_only_and_lives_under_imagegate_home(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_HOME", str(tmp_path / "home"))
    path = credentials.write_keys("secure", ["a-token-123", "b-token-456"])
    assert path == tmp_path / "home" / "keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert credentials.read_keys() == {"secure": ["a-token-123", "b-token-456"]}
    assert credentials.remove_keys("secure") and credentials.read_keys() == {}


def test_missing_required_token_says_how_to_provide_one(secure):
    with imagegate.Gate(plugins=[secure]) as gate, pytest.raises(AuthRequired) as caught:
        gate.generate("a cat", model="sec/basic")
    message = str(caught.value)  # the message, then the owner's hint
    assert "IMAGEGATE_SECURE_TOKEN" in message
    assert "imagegate keys set secure" in message
    assert "https://example.test/keys" in message
    assert secure.calls == []


def test_use_stored_tokens_false_ignores_environment_and_keys_file(secure, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_SECURE_TOKEN", "server-side-token")
    with imagegate.Gate(plugins=[secure], use_stored_tokens=False) as gate:
        with pytest.raises(AuthRequired):
            gate.generate("a cat", model="sec/basic")


def test_matching_prefix_is_stripped_and_a_foreign_one_is_refused(secure):
    other = FakePlugin()  # provider "fake", auth prefix "fk"
    with imagegate.Gate(plugins=[secure, other]) as gate:
        gate.generate("a cat", model="sec/basic", token="sk:real-token-1")
        assert secure.calls[-1]["token"] == "real-token-1"
        with pytest.raises(InvalidRequest) as caught:
            gate.generate("a cat", model="sec/basic", token="fk:meant-for-fake")
    assert caught.value.param == "authorization" and caught.value.status == 400
    assert "meant-for-fake" not in caught.value.message


def test_one_providers_token_never_reaches_another_providers_plugin(secure):
    other = FakePlugin()
    with imagegate.Gate(plugins=[secure, other], tokens={"secure": "secure-only-token"}) as gate:
        gate.generate("a cat", model="sec/basic")
        gate.generate("a cat", model="fake/basic")
    assert [c["token"] for c in secure.calls] == ["secure-only-token"]
    assert [c["token"] for c in other.calls] == [None]  # generate ran only on its owner


def test_base_url_override_from_environment(secure, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_SECURE_BASE_URL", "http://127.0.0.1:9/v1")
    with imagegate.Gate(plugins=[secure], tokens={"secure": "t-123456"}) as gate:
        gate.generate("a cat", model="sec/basic")
    assert secure.calls[-1]["base_url"] == "http://127.0.0.1:9/v1"


def test_providers_report_the_token_source_never_the_token(secure, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_SECURE_TOKEN", "t1-secret-value,t2-secret-value")
    with imagegate.Gate(plugins=[secure]) as gate:
        (status,) = gate.providers()
    assert (status.token_source, status.token_count, status.model_count) == (
        "env:IMAGEGATE_SECURE_TOKEN",
        2,
        2,
    )
    assert "secret" not in repr(status) and "secret" not in repr(gate.tokens_for(SECURE))
