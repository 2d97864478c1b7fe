import imagegate
from tests.fakes import FakePlugin


def test_fake_plugin_generates():
    plugin = FakePlugin()
    with imagegate.Gate(plugins=[plugin]) as gate:
        result = gate.generate("a cat", model="fake/b", n=4, seed=7, response_format="b64_json")
    assert [image.seed for image in result.images] == [7, 8, 9, 10]
    assert result.model == "fake/basic"
    assert result.images[0].mime_type == "image/png"
    assert len(plugin.calls) == 4
