"""Image links are untrusted: only http(s) to allowed addresses, redirects checked and few,
never a re-sent POST, and never more bytes than the cap; errors say so without internals."""

from __future__ import annotations

import openai
import pytest

import imagegate
import imagegate_a4f
from imagegate.errors import ProviderError
from tests.fakes import FakePlugin

from .hostile import BOMB_SIZE, PNG, b64

MODEL = "a4f/provider-4/imagen-3.5"
MB = 1024 * 1024


class LinkPlugin(FakePlugin):
    """A provider with no base URL configured (so: on the public internet) whose answer is
    a link chosen by the test."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        return [imagegate.GeneratedImage(url=self.url)]


def a4f_gate(hostile, **options) -> imagegate.Gate:
    """The real A4F plugin, configured to live on the hostile upstream (a loopback address,
    so loopback links are its own network; nothing else is)."""
    return imagegate.Gate(
        plugins=[imagegate_a4f],
        base_urls={"a4f": f"{hostile.url}/v1"},
        tokens={"a4f": "hostile-token-1"},
        retries=0,
        **options,
    )


def b64_image(gate: imagegate.Gate) -> bytes:
    result = gate.generate("a cat", model=MODEL, response_format="b64_json")
    return result.images[0].data


def assert_no_internals(error: ProviderError, *internals: str) -> None:
    """The message (what a server sends) names the provider, not where the link led."""
    assert error.message.startswith("A4F:") or error.message.startswith("Fake:")
    for detail in internals:
        assert detail not in error.message


def test_a_local_service_is_not_fetched_for_a_provider_on_the_internet(internal):
    link = f"{internal.url}/collect"
    with imagegate.Gate(plugins=[LinkPlugin(link)]) as gate:
        with pytest.raises(ProviderError, match="refused to download the image") as caught:
            gate.generate("a cat", model="fake/basic", response_format="b64_json")
    assert internal.hits == []
    assert_no_internals(caught.value, "127.0.0.1", str(internal.server.port))
    assert "loopback" in caught.value.hint and "IMAGEGATE_FAKE_BASE_URL" in caught.value.hint


@pytest.mark.parametrize(
    "link",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata endpoint
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/image.png",
        "http://192.168.1.1/image.png",
        "http://[fd00::1]/image.png",
        "http://[fe80::1]/image.png",
        "http://[::ffff:10.0.0.1]/image.png",  # an IPv4 address inside an IPv6 one
        "http://100.100.100.200/latest/meta-data/",
    ],
)
def test_private_link_local_and_metadata_links_are_refused_for_a_local_provider(hostile, link):
    hostile.script.append({"url": link})
    with a4f_gate(hostile) as gate, pytest.raises(ProviderError, match="refused") as caught:
        b64_image(gate)
    assert_no_internals(caught.value, link.split("/")[2].strip("[]"))


@pytest.mark.parametrize(
    "link",
    ["file:///etc/passwd", "ftp://example.com/cat.png", "gopher://127.0.0.1:70/", "http://[::1"],
)
def test_only_http_links_are_fetched(hostile, link):
    hostile.script.append({"url": link})
    with a4f_gate(hostile) as gate, pytest.raises(ProviderError, match="refused"):
        b64_image(gate)


def test_the_provider_own_network_is_fetched_and_a_redirect_off_it_is_refused(hostile):
    hostile.script.append({"url": f"{hostile.url}/img/ok.png"})
    hostile.script.append({"url": f"{hostile.url}/to?url=http://169.254.169.254/latest/"})
    with a4f_gate(hostile) as gate:
        assert b64_image(gate) == PNG  # loopback, like the provider itself
        with pytest.raises(ProviderError, match="refused") as caught:
            b64_image(gate)
    assert_no_internals(caught.value, "169.254")


def test_a_few_redirects_are_followed_and_no_more(hostile):
    hostile.script.append({"url": f"{hostile.url}/hop/2"})  # three redirects
    hostile.script.append({"url": f"{hostile.url}/hop/3"})  # four
    with a4f_gate(hostile) as gate:
        assert b64_image(gate) == PNG
        with pytest.raises(ProviderError, match="redirected more than 3 times"):
            b64_image(gate)


def test_blocking_reads_follow_the_same_rules(hostile):
    hostile.script.append({"url": f"{hostile.url}/to?url=http://10.1.2.3/cat.png"})
    with a4f_gate(hostile) as gate:
        image = gate.generate("a cat", model=MODEL).images[0]
        with pytest.raises(ProviderError, match="refused"):
            image.read()  # response_format=url: fetched only now, without an event loop


def test_the_generation_post_is_never_re_sent_where_a_redirect_points(hostile, internal):
    hostile.script.append({"status": 307, "location": f"{internal.url}/collect"})
    with a4f_gate(hostile) as gate, pytest.raises(imagegate.errors.ImagegateError) as caught:
        gate.generate("a cat", model=MODEL)
    assert internal.hits == []
    assert caught.value.provider == "a4f"


@pytest.mark.parametrize(
    ("path", "what"),
    [("/endless", "no length, no end"), ("/declared", "700 MB declared"), ("/bomb", "gzip")],
)
def test_an_image_past_the_cap_is_refused_without_saying_its_size(hostile, path, what):
    hostile.script.append({"url": f"{hostile.url}{path}"})
    with a4f_gate(hostile, max_image_bytes=MB) as gate:
        with pytest.raises(ProviderError, match="larger than the 1 MB limit") as caught:
            b64_image(gate)
    assert_no_internals(caught.value, "700", str(BOMB_SIZE), "bytes)")
    assert "max_image_bytes" in caught.value.hint


def test_bytes_a_plugin_hands_back_have_the_same_cap(hostile):
    hostile.script.append({"b64": b64(PNG[:64] + b"\0" * (2 * MB))})
    with a4f_gate(hostile, max_image_bytes=MB) as gate:
        with pytest.raises(ProviderError, match="larger than the 1 MB limit"):
            gate.generate("a cat", model=MODEL)


def test_the_cap_comes_from_the_environment_and_must_be_positive(hostile, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_MAX_IMAGE_BYTES", "1MB")
    hostile.script.append({"url": f"{hostile.url}/endless"})
    with a4f_gate(hostile) as gate, pytest.raises(ProviderError, match="1 MB limit"):
        b64_image(gate)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_image_bytes"):
            imagegate.Gate(max_image_bytes=bad)


def test_a_server_refuses_hostile_links_and_sends_no_internals(serve, hostile, internal):
    served = serve("--max-image-bytes", "1MB", IMAGEGATE_A4F_BASE_URL=f"{hostile.url}/v1")
    client = openai.OpenAI(
        base_url=f"{served.url}/v1", api_key="a4f:hostile-token-1", max_retries=0, timeout=60
    )
    hostile.script += [
        {"url": f"{hostile.url}/to?url=http://169.254.169.254/latest/meta-data/"},
        {"url": f"{hostile.url}/endless"},
        {"status": 307, "location": f"{internal.url}/collect"},
        {"url": f"{hostile.url}/hop/1"},
    ]
    for expected in ("refused to download the image", "larger than the 1 MB limit", "A4F"):
        with pytest.raises(openai.APIStatusError) as caught:
            client.images.generate(model=MODEL, prompt="a cat", response_format="b64_json")
        assert caught.value.status_code == 502
        message = caught.value.body["message"]
        assert expected in message
        for internal_detail in ("169.254", "127.0.0.1", str(hostile.server.port), "hint"):
            assert internal_detail not in message
    answer = client.images.generate(model=MODEL, prompt="a cat", response_format="b64_json")
    assert answer.data[0].b64_json == b64(PNG)
    assert internal.hits == []
